"""What a valid report is: the one place for every channel.

Every channel (staff desk entry, grid worker, citizen app and web page, 12345 hotline import,
Open311, the phone API's offline batch) builds the same :class:`Submission` and asks
:func:`check`; a rule changes here and nowhere else. :func:`check` answers
``field -> [Problem]``; a problem is a stable message key of ``wangge.i18n`` with its
parameters, so each channel only translates the field names and the error shape:

* the JSON API: 422 ``validation_error`` with ``fields`` (:func:`refusal`);
* the hotline: row problems ``{line, column, header, value, message}``;
* Open311: a list of ``{code, description}``.

Marshmallow schemas parse types and document these limits in the OpenAPI document with the
constants below; they do not decide what a valid report is.

Channel differences that are rules, not translations, are declared here too:
:data:`CHANNEL_REQUIRES` (the hotline needs its order number and time, Open311 its service
code) and the client-key length (:func:`check_client_key`: a client's own key is 8 to 128
characters, while a key a channel derives, like a hotline order number, may be shorter).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from dispatch.cases.models import CHANNELS
from geo.crs import parse_crs
from wangge.errors import validation_error
from wangge.fields import CLOCK_SKEW, MAX_YEAR, MIN_YEAR
from wangge.i18n import t

# --- the limits (the database's columns and the domain's words) -------------------------
DESCRIPTION_MAX = 5000
TITLE_MAX = 200
ADDRESS_MAX = 255
NAME_MAX = 100
PHONE_MAX = 32
PHONE_MIN = 5
PHONE_PATTERN = r"^[0-9+\-() ]{5,32}$"   # digits and the usual separators, 5 to 32 characters
EXTERNAL_ID_MAX = 64
CATEGORY_CODE_MAX = 32
KEY_MIN, KEY_MAX = 8, 128               # a client's own idempotency key
CHANNEL_KEY_MIN = 1                     # a key a channel derives (a hotline order number)
LON_MIN, LON_MAX = -180.0, 180.0
LAT_MIN, LAT_MAX = -90.0, 90.0
CRS_CHOICES = ("wgs84", "gcj02", "bd09")
YEAR_MIN, YEAR_MAX = MIN_YEAR, MAX_YEAR  # of reported_at, in UTC
FUTURE_TOLERANCE = CLOCK_SKEW           # how far a sender's clock may run ahead of ours

# Fields a channel's protocol makes required beyond the description (hotline orders carry
# their number and time; an Open311 request names its service). The adapter asks for them
# (``check(..., require=CHANNEL_REQUIRES[channel])``): intake itself does not, so a case made
# by a script or a test for that channel needs only what every report needs.
CHANNEL_REQUIRES: dict[str, tuple[str, ...]] = {
    "hotline": ("external_id", "reported_at"),
    "open311": ("category_code",),
}

_PHONE = re.compile(PHONE_PATTERN)
# PostgreSQL text cannot hold NUL and UTF-8 cannot encode a lone surrogate.
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
TEXT_FIELDS = ("description", "title", "address", "reporter_name", "reporter_phone", "category_code",
               "external_id", "idempotency_key", "crs")
MAX_LENGTH = {"description": DESCRIPTION_MAX, "title": TITLE_MAX, "address": ADDRESS_MAX,
              "reporter_name": NAME_MAX, "reporter_phone": PHONE_MAX, "external_id": EXTERNAL_ID_MAX,
              "category_code": CATEGORY_CODE_MAX}


@dataclass
class Submission:
    """A report as every channel hands it to intake."""
    channel: str
    description: str
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    address: str | None = None
    title: str | None = None
    category_code: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    idempotency_key: str | None = None   # the client's own key (8 to 128) or a channel's (1 to 128)
    sender: str | None = None            # namespace of the key: "staff:20", "public", "hotline", ...
    external_id: str | None = None
    reported_at: datetime | None = None
    attachments: list[int] = field(default_factory=list)
    # Asked together with the report (a grid worker fixing it on the spot): part of what the
    # key stands for, so a retry that adds or drops it is another submission (409).
    self_handled: bool = False


class Problem(NamedTuple):
    """What is wrong with one field: a message key of ``wangge.i18n`` and its parameters."""
    key: str
    params: dict[str, Any] = {}

    def message(self) -> str:
        return t(self.key, **self.params)


Problems = dict[str, list[Problem]]


class _Collector:
    def __init__(self, skip: Iterable[str]):
        self.problems: Problems = {}
        self.skip = set(skip)

    def add(self, name: str, key: str, **params) -> None:
        if name not in self.skip:
            self.problems.setdefault(name, []).append(Problem(key, params))

    def ok(self, *names: str) -> bool:
        """No problem so far (and no refusal by the channel's parsing) on any of these fields."""
        return not any(n in self.problems or n in self.skip for n in names)


def has_bad_characters(value: str) -> bool:
    """A NUL or a lone surrogate (PostgreSQL and UTF-8 cannot hold them)."""
    return bool(_BAD_CHARACTER.search(value))


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_client_key(key: str | None) -> list[Problem]:
    """A client's own idempotency key: 8 to 128 printable characters."""
    if key is None:
        return []
    if not KEY_MIN <= len(key) <= KEY_MAX:
        return [Problem("submission_key_length", {"min": KEY_MIN, "max": KEY_MAX})]
    if not key.isprintable():
        return [Problem("submission_not_printable")]
    return []


def check_key(key: str | None) -> list[Problem]:
    """Any idempotency key a submission carries (a channel's may be shorter than a client's)."""
    if key is None:
        return []
    if not CHANNEL_KEY_MIN <= len(key) <= KEY_MAX:
        return [Problem("submission_key_length", {"min": CHANNEL_KEY_MIN, "max": KEY_MAX})]
    if not key.isprintable():
        return [Problem("submission_not_printable")]
    return []


def check(sub: Submission, *, category: Callable[[str], Any] | None = None, now: datetime | None = None,
          skip: Iterable[str] = (), require: Iterable[str] = ()) -> Problems:
    """Every rule of a valid report. ``category(code)`` finds a category (``None`` when there
    is none; leave ``category`` out to skip the catalog rules); ``now`` is the time the
    future is measured from; ``require``: fields the channel's protocol requires
    (:data:`CHANNEL_REQUIRES`); ``skip`` names fields the channel already refused while parsing
    (their rules, and the rules that combine them with others, are not asked)."""
    out = _Collector(skip)
    if sub.channel not in CHANNELS:
        out.add("channel", "submission_one_of", choices=", ".join(CHANNELS))

    # text: characters PostgreSQL and UTF-8 can hold, and the column's length
    for name in TEXT_FIELDS:
        value = getattr(sub, name)
        if isinstance(value, str) and _BAD_CHARACTER.search(value):
            out.add(name, "submission_bad_characters")
        elif name in MAX_LENGTH and isinstance(value, str) and len(value) > MAX_LENGTH[name]:
            out.add(name, "submission_too_long", max=MAX_LENGTH[name])

    if out.ok("description") and _blank(sub.description):
        out.add("description", "submission_required")
    for name in require:
        if out.ok(name) and _blank(getattr(sub, name)):
            out.add(name, "submission_required")

    if out.ok("reporter_phone") and sub.reporter_phone is not None and not _PHONE.match(sub.reporter_phone):
        out.add("reporter_phone", "submission_bad_phone", min=PHONE_MIN, max=PHONE_MAX)
    if out.ok("idempotency_key"):
        for problem in check_key(sub.idempotency_key):
            out.add("idempotency_key", problem.key, **problem.params)

    _check_place(sub, out)
    _check_time(sub, out, now)
    if category is not None and sub.category_code is not None and out.ok("category_code"):
        for problem in check_category(sub.category_code, category):
            out.add("category_code", problem.key, **problem.params)
    return out.problems


def check_category(code: str, category: Callable[[str], Any]) -> list[Problem]:
    """A category a case may carry: an active small class of the catalog (``category(code)``
    finds one, ``None`` when there is none). Intake and ``reclassify`` ask the same."""
    found = category(code)
    if found is None or not found.active:
        return [Problem("submission_unknown_category", {"code": code})]
    if found.parent_code is None:
        return [Problem("submission_big_class")]
    return []


def _check_place(sub: Submission, out: _Collector) -> None:
    if "lon" in out.skip or "lat" in out.skip:
        return  # the channel could not read one of them: the pair and place rules cannot tell
    for name, low, high in (("lon", LON_MIN, LON_MAX), ("lat", LAT_MIN, LAT_MAX)):
        value = getattr(sub, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            out.add(name, "submission_not_finite")
        elif not low <= value <= high:
            out.add(name, "submission_out_of_range", low=f"{low:g}", high=f"{high:g}")
    if (sub.lon is None) != (sub.lat is None):
        out.add("lon" if sub.lon is None else "lat", "submission_pair")
    if sub.lon is None and _blank(sub.address) and out.ok("address"):
        out.add("address", "submission_no_place")
    if out.ok("crs"):
        try:
            parse_crs(sub.crs)
        except ValueError:
            out.add("crs", "submission_bad_crs", value=str(sub.crs)[:20], choices=", ".join(CRS_CHOICES))


def _check_time(sub: Submission, out: _Collector, now: datetime | None) -> None:
    when = sub.reported_at
    if when is None or not out.ok("reported_at"):
        return
    if when.tzinfo is None or when.utcoffset() is None:
        out.add("reported_at", "submission_needs_offset")
        return
    try:
        in_utc = when.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not YEAR_MIN <= in_utc.year <= YEAR_MAX:
        out.add("reported_at", "submission_year_range", min=YEAR_MIN, max=YEAR_MAX)
    elif in_utc > (now or datetime.now(UTC)) + FUTURE_TOLERANCE:
        out.add("reported_at", "submission_in_the_future")


def messages(problems: Problems, names: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """``problems`` in the user's language, under the channel's field names."""
    out: dict[str, list[str]] = {}
    for name, found in problems.items():
        shown = out.setdefault((names or {}).get(name, name), [])
        shown.extend(m for m in (p.message() for p in found) if m not in shown)
    return out


def refusal(problems: Problems, names: Mapping[str, str] | None = None):
    """The JSON API's answer: 422 ``validation_error`` naming each field."""
    return validation_error(messages(problems, names))
