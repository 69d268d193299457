"""Answers a view built field by field to its documented schema from what the request itself
wrote (a new report's case, ``dispatch.intake.answer``): sent as they are. flask-smorest would
otherwise dump them through the response schema again, field by field (about a tenth of a
report's CPU), to get the same dict back. The view keeps its ``@blp.response(schema)``, so
the OpenAPI document still describes the answer; in testing the dump still runs and must give
back exactly the answer (a field the schema lacks, or a value it would write differently,
fails every test that makes such an answer), and the contract tests check it against the
document."""
from __future__ import annotations

from flask import Response, current_app
from marshmallow import Schema

_schemas: dict[type, Schema] = {}


def as_built(data: dict, schema: type[Schema]) -> Response:
    """``data`` as JSON, not dumped through ``schema`` (which documents it)."""
    if current_app.testing:
        dumper = _schemas.get(schema) or _schemas.setdefault(schema, schema())
        dumped = dumper.dump(data)
        if dumped != data:
            raise AssertionError(f"an answer built as {schema.__name__} differs from its dump: "
                                 f"{ {k: (v, dumped.get(k)) for k, v in data.items() if dumped.get(k) != v} }, "
                                 f"missing {sorted(set(dumped) - set(data))}")
    return current_app.json.response(data)
