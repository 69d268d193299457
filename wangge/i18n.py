"""User-facing text: Chinese by default, English on request, from gettext message catalogs.

The language comes from ``?lang=``, then the signed-in staff member's preference,
then ``Accept-Language``, then ``WANGGE_LANGUAGE`` (``current_language()``).

Every word a user can see lives in the catalogs
``wangge/translations/{zh,en}/LC_MESSAGES/messages.po`` (Babel), and nowhere else:

- Our own messages have a **stable key** as message id (``not_found``, ``state_closed``,
  ``role_dispatcher``); both catalogs translate it (the English catalog holds the English
  sentence, not the key). Error messages are keyed by their ``ApiError`` code. Placeholders
  are ``str.format`` fields: ``t("not_found", what=..., key=...)``.
- marshmallow's own validation messages keep **the library's English template** as id
  (``"Must be greater than or equal to {min}."``), since that is what the library emits;
  ``field_message`` matches a formatted message back to its template and translates it.

Adding a message: add the same id to both ``.po`` files (``tests/unit/test_i18n_catalogs.py``
fails when an id used by the code, an error code or a marshmallow message of our schemas
lacks a translation in either). ``pybabel extract -F babel.cfg -k t -o /tmp/messages.pot .``
lists the keys the code passes to ``t()``.

The ``.po`` files are compiled in memory when first used (the same compilation as
``pybabel compile``): there are no ``.mo`` files to build or commit.
"""
from __future__ import annotations

import functools
import gettext
import io
import re
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import g, has_request_context, request

from .config import current_settings

SUPPORTED = ("zh", "en")
TRANSLATIONS = Path(__file__).with_name("translations")
_FIELD = re.compile(r"\{(\w+)\}")


def catalog_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


@functools.cache
def catalog(lang: str):
    """The parsed ``.po`` catalog of ``lang`` (a ``babel.messages.Catalog``)."""
    with catalog_path(lang).open("rb") as fh:
        return read_po(fh, locale="zh_Hans_CN" if lang == "zh" else lang)


@functools.cache
def translations(lang: str) -> Translations:
    """The compiled gettext translations of ``lang`` (compiled in memory from the ``.po``)."""
    buf = io.BytesIO()
    write_mo(buf, catalog(lang))
    buf.seek(0)
    compiled = Translations(buf, domain="messages")
    compiled.add_fallback(_Missing())
    return compiled


class _Missing(gettext.NullTranslations):
    """The fallback of a catalog: an id it does not have gives None (not the id)."""

    def gettext(self, message):
        return None


def current_language() -> str:
    if not has_request_context():
        return _default()
    lang = request.args.get("lang")
    if lang in SUPPORTED:
        return lang
    staff = getattr(g, "staff", None)
    if staff is not None and getattr(staff, "language", None) in SUPPORTED:
        return staff.language
    best = request.accept_languages.best_match(["zh", "zh-CN", "en"])
    if best:
        return "en" if best.startswith("en") else "zh"
    return _default()


def _default() -> str:
    try:
        return current_settings().language
    except (RuntimeError, KeyError):
        return "zh"


def _lookup(msgid: str, lang: str) -> str | None:
    """The translation of ``msgid`` in ``lang``, else in Chinese, else None."""
    for code in (lang, "zh") if lang in SUPPORTED else ("zh",):
        text = translations(code).gettext(msgid)
        if text:
            return text
    return None


def t(message_key: str, /, lang: str | None = None, **params) -> str:
    """The message ``message_key`` in ``lang`` (default: the request's), with ``params`` filled in."""
    text = _lookup(message_key, lang or current_language())
    if text is None:
        return message_key
    return text.format(**params) if params else text


def both(message_key: str, /, **params) -> tuple[str, str]:
    """(Chinese, English): for text stored for readers whose language is not known yet."""
    return t(message_key, lang="zh", **params), t(message_key, lang="en", **params)


@functools.cache
def _templates() -> list[tuple[re.Pattern, str]]:
    """The message ids with ``{fields}`` that are English sentences (marshmallow's templates),
    as patterns matching their formatted text; longest literal text first."""
    out = []
    for message in catalog("en"):
        msgid = message.id
        if not msgid or not isinstance(msgid, str) or "{" not in msgid or " " not in msgid:
            continue
        pattern, pos = "", 0
        for m in _FIELD.finditer(msgid):
            pattern += re.escape(msgid[pos:m.start()]) + f"(?P<{m.group(1)}>.*?)"
            pos = m.end()
        pattern += re.escape(msgid[pos:])
        out.append((re.compile(pattern, re.S), msgid))
    out.sort(key=lambda item: -len(_FIELD.sub("", item[1])))
    return out


def field_message(message: str, lang: str | None = None) -> str:
    """A field message in ``lang``: marshmallow's English messages (formatted, e.g. "Must be
    greater than or equal to 1.") translated through the catalog; anything else as it is."""
    lang = lang or current_language()
    if " " in message or message.endswith("."):
        exact = _lookup(message, lang)
        if exact is not None:
            return exact
        for pattern, msgid in _templates():
            m = pattern.fullmatch(message)
            if m:
                return (_lookup(msgid, lang) or msgid).format(**m.groupdict())
    return message
