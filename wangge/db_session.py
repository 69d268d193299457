"""The session class of ``db``: Flask-SQLAlchemy's, plus one switch. While a replica-marked
read runs (``wangge.replica.reads_replica``) the session's ``info`` names the replica engine
and every statement goes there; a flush or an INSERT/UPDATE/DELETE is refused at once, since a
read routed to a replica that writes is a bug to fix, not something to let through."""
from __future__ import annotations

from flask_sqlalchemy.session import Session

READ_FROM = "wangge_read_from"


class ReplicaWriteError(RuntimeError):
    """A write inside a read marked for the replica (``@reads_replica``)."""


class RoutingSession(Session):
    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        replica = self.info.get(READ_FROM) if bind is None else None
        if replica is None:
            return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        if self._flushing or getattr(clause, "is_dml", False):
            raise ReplicaWriteError("a request marked @reads_replica tried to write; "
                                    "writes belong to views that are not marked")
        return replica
