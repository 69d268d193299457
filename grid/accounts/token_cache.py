"""Each process's cache of the bearer tokens it has resolved, so a request's token costs no
statement (issue 10: the token was a tenth of a request's CPU).

What is cached for a token digest is what ``grid.accounts.service.resolve_token`` read: token
and staff ids, expiry, roles, department, language and time zone, the device session and
when it was last seen. Only tokens that passed every check are cached; expiry is checked
again on every use.

Versioned like the reference data (``grid.catalog.reference``): triggers (migration 0022)
put a new random token into ``layer_versions['credentials']`` in the transaction of any
change that could make a cached answer wrong (a token or device revoked, an account
disabled, a role granted or taken, a department, language or time zone changed), whoever
makes it. A process compares that token with the one its cache was built from at most every
``WANGGE_TOKEN_CHECK_SECONDS`` (one indexed SELECT) and starts an empty cache when they
differ, so a token revoked elsewhere is refused within that interval. A change committed by
this process (an ORM flush touching those tables, or ``touched``) makes its next request
check at once, so signing out or disabling an account acts on the very next request here.
"""
from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field

from sqlalchemy import select

from grid.models import ApiToken, DeviceSession, LayerVersion, Staff, StaffRole
from wangge.config import current_settings
from wangge.versioned_cache import ChangeWatch

LAYER = "credentials"
MAX_ENTRIES = 100_000  # tokens per process; past it the cache starts again (a few MB)


@dataclass(slots=True)
class Entry:
    token_id: int
    staff_id: int
    expires_at: object
    roles: frozenset
    device_session_id: int | None
    last_seen_at: object
    preferences: tuple
    department_id: int | None


@dataclass
class Credentials:
    version: str
    checked_at: float
    entries: dict[str, Entry] = field(default_factory=dict)

    def get(self, digest: str) -> Entry | None:
        return self.entries.get(digest)

    def put(self, digest: str, entry: Entry) -> None:
        if len(self.entries) >= MAX_ENTRIES:
            self.entries = {}
        self.entries[digest] = entry


_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> Credentials
_VERSION = select(LayerVersion.version).where(LayerVersion.name == LAYER)


def current(session) -> Credentials:
    """This process's credentials cache for the session's engine, emptied when the version in
    the database moved (compared at most every ``token_check_seconds``, and at most once per
    transaction)."""
    engine = session.get_bind().engine
    built = _cache.get(engine)
    now = time.monotonic()
    if built is not None and (now - built.checked_at < current_settings().token_check_seconds
                              or _WATCH.checked_in_this_transaction(session, built)):
        return built
    token = session.execute(_VERSION).scalar() or ""
    with _lock:
        built = _cache.get(engine)
        if built is None or built.version != token:
            built = _cache[engine] = Credentials(token, now)
        else:
            built.checked_at = now
    _WATCH.mark_checked(session, built)
    return built


def recheck(session) -> None:
    """Make this process's next request compare the version again."""
    built = _cache.get(session.get_bind().engine)
    if built is not None:
        built.checked_at = float("-inf")


def touched(session) -> None:
    """A change to credentials the ORM does not see (a Core UPDATE or DELETE): recheck once
    this session commits. ORM changes are noticed on their own."""
    _WATCH.touched(session)


# a new token or device session cannot make a cached answer wrong; a new role can
_WATCH = ChangeWatch("credentials", recheck, watched=(ApiToken, Staff, StaffRole, DeviceSession),
                     watched_new=(StaffRole,))
