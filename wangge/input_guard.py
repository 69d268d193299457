"""Requests refused before any view runs: input no view should ever have to think about
(ids beyond the database's integer range in paths, NUL bytes, lone surrogates, absurdly
nested JSON). Each refusal is a 4xx in the project's error format.

* ``<int:...>`` in a route matches 0..2**31-1 only (PostgreSQL ``integer``); a larger id is
  simply no such route: 404 ``route_not_found``.
* A NUL character or a lone UTF-16 surrogate in a JSON string (key or value), a form field, a
  query parameter or a path segment: 422 ``invalid_characters`` naming where it was.
  PostgreSQL refuses NUL in text and UTF-8 cannot encode a lone surrogate, so such values
  could only fail later, as a 500.
* JSON nested deeper than :data:`MAX_JSON_DEPTH`: 400 ``json_too_deep`` (the parser would
  otherwise recurse until Python's stack limit).
"""
from __future__ import annotations

import json
import re
from itertools import accumulate

from flask import Flask, current_app, request
from flask_smorest.spec.plugins import integerconverter2paramschema
from werkzeug.routing import IntegerConverter

from .auth import view_target
from .errors import ApiError, validation_error
from .extensions import api
from .i18n import t

MAX_DB_INT = 2**31 - 1  # PostgreSQL ``integer``, the type of every id column
MAX_JSON_DEPTH = 64

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
# In a JSON text without zero bytes (so UTF-8, not UTF-16/32: json.detect_encoding) a decoded
# string can hold NUL or a surrogate only through a \u escape or a surrogate's UTF-8 bytes
# (json.loads decodes with "surrogatepass"); a body with none of these is not parsed and
# walked here (a GPS batch: ~0.5 ms of CPU saved). Matches may be false alarms (an escaped
# backslash before "u0000", a valid surrogate pair): those bodies get the full check.
_MAYBE_BAD_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|\xed[\xa0-\xbf]")


class BoundedIntConverter(IntegerConverter):
    """``<int:id>`` limited to the database's integer range, so a huge id is a 404, not a
    database error."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_DB_INT, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_app(app: Flask) -> None:
    """Register the guards (called by the app factory before the blueprints)."""
    app.url_map.converters["int"] = BoundedIntConverter

    api.register_converter(BoundedIntConverter, integerconverter2paramschema)
    app.before_request(refuse_bad_input)
    app.before_request(refuse_unknown_query)


def refuse_bad_input() -> None:
    _check_pairs("path", (request.view_args or {}).items())
    _check_pairs("query", request.args.items(multi=True))
    if request.is_json:
        _check_json(request.get_data(cache=True))
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _check_pairs("form", request.form.items(multi=True))


def json_depth(body: bytes) -> int:
    """How deeply ``[`` and ``{`` nest in a JSON text (brackets inside strings ignored)."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets))


def _check_json(body: bytes) -> None:
    if json_depth(body) > MAX_JSON_DEPTH:
        raise ApiError("json_too_deep", status=400, limit=MAX_JSON_DEPTH)
    if b"\x00" not in body and _MAYBE_BAD_ESCAPE.search(body) is None:
        return
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return  # not JSON at all: the view's own parsing answers that
    where = _bad_string_in(data, "")
    if where is not None:
        _refuse(where or "body")


def _bad_string_in(value, path: str) -> str | None:
    """The dotted path of the first string (key or value) holding a NUL or a lone surrogate."""
    if isinstance(value, str):
        return path if _has_bad_character(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if _has_bad_character(key):
                return path or "body"
            found = _bad_string_in(item, child)
            if found is not None:
                return found
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found = _bad_string_in(item, f"{path}.{n}" if path else str(n))
            if found is not None:
                return found
    return None


def _has_bad_character(text: str) -> bool:
    # Paired surrogates never survive JSON decoding as surrogates (they become one code
    # point), so any surrogate left in a Python string is a lone one.
    return _BAD_CHARACTER.search(text) is not None


def _check_pairs(location: str, pairs) -> None:
    for name, value in pairs:
        if _has_bad_character(str(name)):
            _refuse(location)
        if isinstance(value, str) and _has_bad_character(value):
            _refuse(str(name))


def _refuse(field: str) -> None:
    raise ApiError("invalid_characters", status=422, field=field,
                   fields={field: [t("invalid_characters_field")]})


OWN_QUERY_ATTR = "_wangge_reads_own_query"
ALWAYS_ACCEPTED = {"lang"}


def reads_own_query(view):
    """Mark a view that parses its query string itself (Open311, whose spec lets clients send
    parameters a server does not use): the guard below leaves it alone."""
    setattr(view, OWN_QUERY_ATTR, True)
    return view


def refuse_unknown_query() -> None:
    """An API operation that declares no query parameters refuses any (422 naming them), as
    those that declare a query schema do: nothing a client sends is silently ignored."""
    if not request.args or request.endpoint is None or request.method == "OPTIONS":
        return
    target = view_target(current_app.view_functions[request.endpoint], request.method)
    doc = getattr(target, "_apidoc", None)  # set by flask-smorest on documented operations only
    if doc is None or getattr(target, OWN_QUERY_ATTR, False):
        return
    declared = doc.get("arguments", {}).get("parameters", [])
    if any(p.get("in") == "query" for p in declared):
        return  # its query schema refuses unknown parameters itself
    unknown = sorted(set(request.args) - ALWAYS_ACCEPTED)
    if unknown:
        raise validation_error({name: ["Unknown field."] for name in unknown})
