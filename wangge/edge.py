"""One commit per request, at the edge: services flush, the edge commits or rolls back, then
tells the domains (``hooks().after_commit`` / ``after_rollback``)."""
from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy.exc import IntegrityError

from .errors import (
    ApiError,
    concurrent_update_response,
    database_unavailable_response,
    is_concurrency_conflict,
    is_database_unavailable,
)
from .extensions import db
from .hooks import hooks


def init_app(app: Flask) -> None:
    @app.after_request
    def _finish(response):
        if response.status_code >= 400:
            _rollback_quietly(app)
            _after_rollback(app)
            return response
        try:
            db.session.commit()
        except Exception as exc:
            _after_rollback(app)
            if is_database_unavailable(exc):  # nothing was committed: the client should retry
                app.logger.warning("commit failed, database unavailable: %s", exc)
                return app.make_response(database_unavailable_response())
            if is_concurrency_conflict(exc):
                return app.make_response(concurrent_update_response())
            _rollback_quietly(app)
            if not isinstance(exc, IntegrityError):
                raise
            app.logger.warning("commit failed: %s", exc)
            err = ApiError("conflict", status=409, detail=str(getattr(exc, "orig", exc)).splitlines()[0])
            return app.make_response((jsonify(err.to_dict()), 409))
        for after_commit in hooks(app).after_commit:
            after_commit(db.session())  # must never raise: the request is done
        return response


def _after_rollback(app: Flask) -> None:
    for after_rollback in hooks(app).after_rollback:
        after_rollback(db.session())


def _rollback_quietly(app: Flask) -> None:
    try:
        db.session.rollback()
    except Exception:  # a lost connection: the pool replaces it on the next checkout
        app.logger.warning("rollback failed", exc_info=True)
