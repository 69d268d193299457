"""The session class of ``db``: Flask-SQLAlchemy's, plus one switch. While a replica-marked
read runs (``wangge.replica.reads_replica``) the session's ``info`` names the replica engine
and every statement goes there; a flush or an INSERT/UPDATE/DELETE is refused at once, since a
read routed to a replica that writes is a bug to fix, not something to let through."""
from __future__ import annotations

from flask.globals import _cv_app
from flask_sqlalchemy.session import Session
from sqlalchemy.orm import scoped_session

READ_FROM = "wangge_read_from"


def app_context_id() -> int:
    """The session's scope: the current application context, as Flask-SQLAlchemy's own
    ``_app_ctx_id``, read from Flask's context variable rather than through the ``app_ctx``
    proxy: it runs on every ``db.session`` access, about thirty times a request. Outside an
    application context it raises as the proxy did."""
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError("Working outside of application context.")
    return id(ctx)


def plain_session(session):
    """The session itself when given ``db.session`` (the scoped proxy): what ``info`` and the
    transaction belong to, and where SQLAlchemy's session-level calls are made."""
    return session() if isinstance(session, scoped_session) else session


class ReplicaWriteError(RuntimeError):
    """A write inside a read marked for the replica (``@reads_replica``)."""


class RoutingSession(Session):
    _primary = None

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is not None:
            return bind
        replica = self.info.get(READ_FROM)
        if replica is None:
            # One database and no bind keys: the app's engine, looked up once per session (a
            # session lives in one application context, so in one app) instead of through
            # ``current_app`` on every statement and flush.
            if self._primary is None:
                self._primary = super().get_bind(mapper=mapper, clause=clause, **kwargs)
            return self._primary
        if self._flushing or getattr(clause, "is_dml", False):
            raise ReplicaWriteError("a request marked @reads_replica tried to write; "
                                    "writes belong to views that are not marked")
        return replica
