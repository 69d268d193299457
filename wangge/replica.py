"""Reads on a PostgreSQL streaming replica (``WANGGE_REPLICA_DATABASE_URL``; docs/operations.md,
"Read replica").

A view marked ``@reads_replica`` (lists, indicators, Open311 reads, exports) runs its queries
on the replica when the replica is close enough for the person asking:

- **their own writes:** after a write request commits, the primary's WAL insert position
  (``pg_current_wal_insert_lsn()``, at or past the commit) is remembered for whoever made it
  (the staff member; the client address for anonymous callers), in Redis for
  ``2 × max lag + 60`` seconds (in this process without Redis). Their marked reads use the
  replica only once its ``pg_last_wal_replay_lsn()`` has reached that position;
- **everyone:** a replica more than ``WANGGE_REPLICA_MAX_LAG_SECONDS`` behind (the age of the
  last transaction it replayed while WAL waits to be replayed, or while it is not streaming),
  unreachable, or promoted is not used: the read goes to the primary, with one log line when
  that starts and one when it ends. Past the key's lifetime a writer's change is older than
  the lag limit, so the lag rule alone keeps them from reading behind it;
- a marked read that fails on the replica (the replica went away mid-request, a query
  cancelled by replay) or answers 404 (the row may not have arrived yet) runs once more on
  the primary: it only reads, so running it twice is safe;
- who is asking (token, staff row, roles) is always read on the primary, before the switch;
- a write inside a marked read fails loudly (``wangge.db_session.ReplicaWriteError``), on the
  replica or not.

Without the setting nothing here runs: the decorator calls the view, and no hook is
registered, so the primary path has no extra statement or Redis call.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import wraps

from flask import current_app, g, has_app_context, has_request_context, request
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from .auth import current_staff
from .db_session import READ_FROM, ReplicaWriteError
from .extensions import db
from .hooks import hooks

log = logging.getLogger(__name__)
EXTENSION = "wangge_replica"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ONLY_TRANSACTION = "25006"  # the replica refused a write that slipped past the session

# The replay position; how far behind (seconds) when WAL waits to be replayed or nothing is
# streaming (NULL when nothing was replayed since it started: unknown, so not used).
STATE_SQL = text("""
SELECT pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                 AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END
""")
PRIMARY_LSN_SQL = text("SELECT pg_current_wal_insert_lsn()::text")


def lsn_key(lsn: str) -> str:
    """``16/B374D848`` as a fixed-width hex string: strings compare as the positions do
    (in Redis' Lua too, where numbers are doubles)."""
    high, _, low = lsn.partition("/")
    return f"{(int(high, 16) << 32) | int(low, 16):016X}"


# -- where each writer's last commit is remembered ------------------------------------------

RAISE_TO = """
local cur = redis.call('GET', KEYS[1])
if (not cur) or ARGV[1] > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
"""


class RedisMarks:
    """Shared by every process; a position only ever rises (two writes of one person finishing
    out of order keep the later one)."""

    def __init__(self, url: str):
        self.redis = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._raise_to = self.redis.register_script(RAISE_TO)

    def raise_to(self, who: str, lsn: str, ttl: int) -> None:
        self._raise_to(keys=[f"wangge-replica:{who}"], args=[lsn, ttl])

    def get(self, who: str) -> str | None:
        value = self.redis.get(f"wangge-replica:{who}")
        return value.decode() if value is not None else None


class LocalMarks:
    """Without Redis: this process only (one web process; with several, a write and the next
    read may land in different processes and only the lag limit applies)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._marks: dict[str, tuple[str, float]] = {}

    def raise_to(self, who: str, lsn: str, ttl: int) -> None:
        with self._lock:
            now = time.monotonic()
            old = self._marks.get(who)
            if old is not None and old[1] > now and old[0] > lsn:
                lsn = old[0]
            self._marks[who] = (lsn, now + ttl)
            if len(self._marks) > 10000:
                self._marks = {k: v for k, v in self._marks.items() if v[1] > now}

    def get(self, who: str) -> str | None:
        mark = self._marks.get(who)
        return mark[0] if mark is not None and mark[1] > time.monotonic() else None


# -- the replica and how far behind it is -----------------------------------------------------

@dataclass(frozen=True)
class ReplicaState:
    checked: float            # time.monotonic() of the check
    replayed: str | None      # lsn_key of the replay position; None: unreachable or not a replica
    lag: float | None         # seconds behind; None: unknown
    problem: str | None = None


class Replica:
    def __init__(self, settings):
        self.settings = settings  # the app's (tests change limits on it while the app runs)
        options = settings.engine_options()
        # a replica that does not answer must cost a request little: it is then skipped
        options["connect_args"] = {**options.get("connect_args", {}), "connect_timeout": 2,
                                   "application_name": "wangge-replica-read"}
        self.engine = create_engine(settings.replica_database_url.replace("postgres://", "postgresql://", 1),
                                    **options)
        self.marks = RedisMarks(settings.redis_url) if settings.redis_url else LocalMarks()
        self.state = ReplicaState(checked=-math.inf, replayed=None, lag=None, problem="not checked yet")
        self._was_usable = True

    @property
    def mark_ttl(self) -> int:
        return int(2 * self.settings.replica_max_lag_seconds + 60)

    def check(self) -> ReplicaState:
        try:
            with self.engine.connect() as conn:
                replayed, lag = conn.execute(STATE_SQL).one()
        except DBAPIError as exc:
            state = ReplicaState(time.monotonic(), None, None, f"unreachable: {str(exc.orig).strip()[:200]}")
        else:
            state = ReplicaState(time.monotonic(), lsn_key(replayed) if replayed else None, lag,
                                 None if replayed else "not in recovery (promoted?)")
        self.state = state
        return state

    def choose(self, who: str | None) -> tuple[bool, str]:
        """(use the replica?, why) for a read by ``who`` (None: nobody in particular)."""
        try:
            needed = self.marks.get(who) if who else None
        except Exception as exc:  # noqa: BLE001 - Redis down: nobody's last write is known
            return self._report(False, f"last writes unknown ({exc.__class__.__name__}: {exc})")
        state = self.state
        stale = time.monotonic() - state.checked >= self.settings.replica_check_seconds
        if stale or (needed and state.replayed is not None and state.replayed < needed):
            state = self.check()
        if state.replayed is None:
            return self._report(False, state.problem)
        if state.lag is None or state.lag > self.settings.replica_max_lag_seconds:
            lag = "unknown" if state.lag is None else f"{state.lag:.1f} s"
            return self._report(False, f"{lag} behind (limit {self.settings.replica_max_lag_seconds} s)")
        if needed and state.replayed < needed:
            return False, "behind this caller's last write"  # normal for a moment: not logged
        return self._report(True, "replica")

    def _report(self, usable: bool, why: str) -> tuple[bool, str]:
        if usable != self._was_usable:
            self._was_usable = usable
            if usable:
                log.info("read replica in use again")
            else:
                log.warning("read replica not used, reads go to the primary: %s", why)
        return usable, why


def init_app(app) -> None:
    settings = app.config["WANGGE"]
    if not settings.replica_database_url:
        return
    app.extensions[EXTENSION] = Replica(settings)
    hooks(app).after_commit.append(_remember_write)
    log.info("read replica configured: marked reads may go to %s",
             app.extensions[EXTENSION].engine.url.render_as_string(hide_password=True))


def _caller() -> str | None:
    if not has_request_context():
        return None
    token = g.get("token")
    if token is not None:
        return f"staff:{token.staff_id}"
    return f"addr:{request.remote_addr}"


def _remember_write(session) -> None:
    """After a write request committed: the caller's reads wait for the replica to pass this."""
    if not has_request_context() or request.method in SAFE_METHODS:
        return
    replica = current_app.extensions[EXTENSION]
    try:
        lsn = session.execute(PRIMARY_LSN_SQL).scalar()
        replica.marks.raise_to(_caller(), lsn_key(lsn), replica.mark_ttl)
    except Exception:  # noqa: BLE001 - after commit nothing may raise; reads then rely on the lag limit
        log.warning("could not remember the last write for the read replica", exc_info=True)


# -- the marker -------------------------------------------------------------------------------

def reads_replica(view):
    """Run ``view`` (it only reads) on the replica when the replica has what the caller wrote
    and is within the lag limit; otherwise, or if it fails there or answers 404, on the
    primary. Also for background jobs (below ``@with_app``): their limit is the lag alone."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        replica = current_app.extensions.get(EXTENSION) if has_app_context() else None
        if replica is None:
            return view(*args, **kwargs)
        if has_request_context() and g.get("token") is not None:
            current_staff()  # who is asking is read on the primary (a new account may not be on the replica yet)
        use, why = replica.choose(_caller())
        g.wangge_read_from = "replica" if use else "primary"
        if not use:
            return _on(None, view, args, kwargs)
        try:
            result = _on(replica.engine, view, args, kwargs)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == READ_ONLY_TRANSACTION:
                raise ReplicaWriteError(str(exc.orig)) from exc
            log.warning("a read failed on the replica, running it on the primary: %s", str(exc.orig).strip()[:200])
            replica.state = ReplicaState(-math.inf, None, None, "failed")  # check again on the next read
            _rollback()
        except Exception as exc:
            if _status(exc) != 404:
                raise
            db.session.expire_all()
        else:
            if _status(result) != 404:
                return result
            db.session.expire_all()
        g.wangge_read_from = "primary"
        return _on(None, view, args, kwargs)

    return wrapper


def _on(engine, view, args, kwargs):
    if engine is None:
        return view(*args, **kwargs)
    session = db.session()
    session.info[READ_FROM] = engine
    try:
        return view(*args, **kwargs)
    finally:
        session.info.pop(READ_FROM, None)


def _status(outcome) -> int | None:
    if isinstance(outcome, HTTPException):
        return outcome.code
    if isinstance(outcome, BaseException):
        return getattr(outcome, "status", None)
    if isinstance(outcome, tuple) and len(outcome) > 1 and isinstance(outcome[1], int):
        return outcome[1]
    return getattr(outcome, "status_code", None)


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a lost connection: the pool replaces it
        log.debug("rollback after a failed replica read failed", exc_info=True)
