"""The session plumbing of a process cache versioned by a token in the database (the reference
data, ``grid.catalog.reference``; the signed-in tokens, ``grid.accounts.token_cache``): compare
the version at most once per transaction, and compare again at once after this process
committed a change to the cached tables.

``ChangeWatch(name, recheck, watched, watched_new)`` listens to every session: a flush that
changed (``dirty``/``deleted``) an instance of ``watched``, or added one of ``watched_new``,
marks the session; its commit then calls ``recheck(session)``; a rollback forgets the mark.
``touched(session)`` marks it by hand, for Core UPDATEs and DELETEs the ORM does not see."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from .db_session import plain_session


class ChangeWatch:
    def __init__(self, name: str, recheck: Callable, watched: tuple, watched_new: tuple):
        self._changed, self._seen = f"wangge.{name}.changed", f"wangge.{name}.seen"
        self._recheck, self._watched, self._watched_new = recheck, watched, watched_new
        event.listen(Session, "after_flush", self._notice_changes)
        event.listen(Session, "after_commit", self._recheck_after_commit)
        event.listen(Session, "after_rollback", self._forget)

    def checked_in_this_transaction(self, session, built) -> bool:
        """Whether this transaction compared ``built`` with the database already."""
        session = plain_session(session)
        transaction = session.get_transaction()
        seen = session.info.get(self._seen)
        return transaction is not None and seen is not None and seen[0] is transaction and seen[1] is built

    def mark_checked(self, session, built) -> None:
        session = plain_session(session)
        transaction = session.get_transaction()
        if transaction is not None:  # the version query began one
            session.info[self._seen] = (transaction, built)

    def touched(self, session) -> None:
        """A change the ORM does not see (a Core UPDATE or DELETE): recheck once this session commits."""
        plain_session(session).info[self._changed] = True

    def _notice_changes(self, session, _flush_context):
        if any(isinstance(o, self._watched) for objects in (session.dirty, session.deleted) for o in objects) \
                or any(isinstance(o, self._watched_new) for o in session.new):
            session.info[self._changed] = True

    def _recheck_after_commit(self, session):
        if session.info.pop(self._changed, False):
            try:
                self._recheck(session)
            except Exception:  # pragma: no cover - a session without a bind: nothing cached for it
                pass

    def _forget(self, session):
        session.info.pop(self._changed, None)
