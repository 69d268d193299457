"""One error format for every endpoint.

``{"status": 422, "code": "validation_error", "message": "...", "fields": {"lon": ["..."]}}``
``code`` is stable and machine-readable; ``message`` is a sentence in the user's language.
"""
from __future__ import annotations

import logging

from flask import g, jsonify
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from .extensions import api, db
from .i18n import field_message, t

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400

    def __init__(self, code: str, message: str | None = None, *, status: int | None = None,
                 fields: dict | None = None, details: dict | list | None = None, **params):
        super().__init__(code)
        self.code = code
        self.status = status or self.status
        self.params = params
        self._message = message
        self.fields = fields
        self.details = details

    @property
    def message(self) -> str:
        return self._message or t(self.code, **self.params)

    def to_dict(self) -> dict:
        body = {"status": self.status, "code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = _localise(self.fields)
        if self.details is not None:
            body["details"] = self.details
        return body


class NotFound(ApiError):
    status = 404

    def __init__(self, what: str, key):
        super().__init__("not_found", what=t(what), key=key)


class Conflict(ApiError):
    status = 409


class Forbidden(ApiError):
    status = 403


def _flatten_messages(messages) -> dict:
    """webargs nests errors by location (json/query/...); users care about field names."""
    flat: dict = {}
    for location, errors in (messages or {}).items():
        if isinstance(errors, dict) and location in {"json", "query", "form", "files", "headers", "view_args", "json_or_form"}:
            for name, msgs in errors.items():
                flat[name] = _localise(msgs)
        else:
            flat[location] = _localise(errors)
    return flat


def _localise(msgs):
    """Field messages in the user's language: marshmallow's English messages and any message
    id of the catalogs are translated (wangge.i18n.field_message); others pass unchanged."""
    if isinstance(msgs, list):
        return [field_message(m) if isinstance(m, str) else _localise(m) for m in msgs]
    if isinstance(msgs, dict):
        return {k: _localise(v) for k, v in msgs.items()}
    return field_message(msgs) if isinstance(msgs, str) else msgs


def validation_error(fields: dict) -> ApiError:
    """A 422 naming each bad field; ``fields`` maps field name to a list of messages."""
    err = ApiError("validation_error", status=422, fields=fields)
    err.params = {"fields": "、".join(str(k) for k in fields)}
    return err


RETRY_AFTER_SECONDS = 5

HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden_role", 404: "route_not_found",
    405: "method_not_allowed", 409: "conflict", 413: "file_too_large", 429: "rate_limited",
}


# What every error body looks like, for the OpenAPI document (flask-smorest's default
# ``Error`` schema describes its own format: an integer ``code`` and a string ``status``).
ERROR_SCHEMA_DOC = {
    "type": "object",
    "required": ["status", "code", "message"],
    "properties": {
        "status": {"type": "integer", "description": "HTTP status"},
        "code": {"type": "string", "description": "Stable machine-readable code, e.g. validation_error"},
        "message": {"type": "string", "description": "A sentence in the user's language"},
        "fields": {"type": "object", "description": "Field name -> messages (validation errors)",
                   "additionalProperties": {}},
        "details": {"description": "Per-item problems, e.g. invalid features or CSV rows"},
    },
}


def _document_error_format() -> None:

    spec = getattr(api, "spec", None)
    if spec is not None and "Error" in spec.components.schemas:
        spec.components.schemas["Error"] = ERROR_SCHEMA_DOC


def is_concurrency_conflict(exc: BaseException) -> bool:
    """PostgreSQL gave up on this transaction because of another one at the same moment
    (SQLSTATE class 40: deadlock detected, serialization failure): a 409, not an outage."""
    return isinstance(exc, DBAPIError) and str(getattr(exc.orig, "sqlstate", "") or "").startswith("40")


def is_database_unavailable(exc: BaseException) -> bool:
    """A failure of the database itself (down, restarting, connection lost, locked), as opposed
    to a bad statement, a constraint or a concurrency conflict: the request may succeed when
    retried later."""
    if is_concurrency_conflict(exc):
        return False
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated)


def concurrent_update_response():
    """409 ``concurrent_update``: another request changed the same rows at the same moment."""

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001
        log.debug("rollback after a concurrency conflict failed", exc_info=True)
    err = ApiError("concurrent_update", status=409)
    return jsonify(err.to_dict()), 409, {"Retry-After": "1"}


def database_unavailable_response():
    """503 ``database_unavailable`` with ``Retry-After``; never touches the database."""

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone; the pool replaces it
        log.debug("rollback on a lost connection failed", exc_info=True)
    # The signed-in staff member (for the message language) cannot be read without the database.
    g.pop("staff", None)
    err = ApiError("database_unavailable", status=503, retry=RETRY_AFTER_SECONDS)
    return jsonify(err.to_dict()), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def register_error_handlers(app) -> None:
    _document_error_format()

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return jsonify(err.to_dict()), err.status

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        data = getattr(err, "data", None) or {}
        if err.code == 422 and "messages" in data:
            api_err = validation_error(_flatten_messages(data["messages"]))
        else:
            code = HTTP_CODES.get(err.code, "bad_request" if (err.code or 500) < 500 else "internal_error")
            api_err = ApiError(code, status=err.code, roles="", detail=err.description or "")
            if code in ("forbidden_role", "conflict"):
                api_err._message = err.description
        # Keep what the exception says about itself (Allow on a 405, Retry-After on a 429...),
        # but not its HTML content type.
        headers = [(k, v) for k, v in err.get_headers() if k.lower() not in ("content-type", "content-length")]
        return jsonify(api_err.to_dict()), err.code, headers

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_error(err: DBAPIError):
        if is_concurrency_conflict(err):
            log.info("concurrency conflict: %s", str(err.orig).strip().splitlines()[:1])
            return concurrent_update_response()
        log.warning("database unavailable: %s", str(getattr(err, "orig", err)).strip().splitlines()[:1])
        return database_unavailable_response()

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        if is_database_unavailable(err) or is_concurrency_conflict(err):
            return _database_error(err)
        log.exception("unhandled error")
        # A failed flush leaves the session unusable; building the message may read the
        # signed-in staff member's language, so roll back first.

        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the error body must still go out
            log.exception("rollback after unhandled error failed")
        return jsonify(ApiError("internal_error", status=500).to_dict()), 500
