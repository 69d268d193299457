"""Staff accounts: argon2 password hashes, bearer tokens with expiry and revocation."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from grid.accounts import token_cache
from grid.models import ApiToken, DeviceSession, GridAssignment, RefreshToken, Staff, StaffRole
from grid.roles import ROLES
from wangge.errors import ApiError, validation_error
from wangge.i18n import t
from wangge.timeutil import utcnow

_hasher = PasswordHasher()
# Verifying against a dummy hash for unknown users keeps timing from revealing usernames.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
# A phone's "last seen" is written at most this often by its ordinary requests (sign-in and
# refresh always write it), so reading does not turn every request into a write.
LAST_SEEN_EVERY = timedelta(minutes=5)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_staff(session, *, username: str, name: str, password: str, roles=(), department_id=None,
                 phone=None, language="zh") -> Staff:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise validation_error({"roles": [f"unknown role(s): {', '.join(unknown)}"]})
    if session.scalar(select(Staff.id).where(Staff.username == username)) is not None:
        raise ApiError("already_exists", status=409, what=t("staff"), key=username)
    staff = Staff(username=username, name=name, password_hash=hash_password(password),
                  department_id=department_id, phone=phone, language=language)
    staff.role_rows = [StaffRole(role=r) for r in sorted(set(roles))]
    session.add(staff)
    session.flush()
    return staff


def set_roles(staff: Staff, roles) -> None:
    wanted = set(roles)
    staff.role_rows = [r for r in staff.role_rows if r.role in wanted]
    have = {r.role for r in staff.role_rows}
    staff.role_rows.extend(StaffRole(role=r) for r in sorted(wanted - have))


def authenticate(session, username: str, password: str) -> Staff:
    staff = session.scalar(select(Staff).where(Staff.username == username))
    try:
        _hasher.verify(staff.password_hash if staff else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise ApiError("bad_credentials", status=401) from None
    if staff is None:
        raise ApiError("bad_credentials", status=401)
    if not staff.active:
        raise ApiError("account_disabled", status=403)
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = hash_password(password)
    return staff


def issue_token(session, staff: Staff, *, ttl_hours: float, client: str | None = None,
                device_session_id: int | None = None) -> tuple[str, ApiToken]:
    """A bearer token; a phone's (``device_session_id``) lives and dies with its device session."""
    secret = secrets.token_urlsafe(32)
    token = ApiToken(staff_id=staff.id, token_hash=_token_digest(secret), client=client,
                     expires_at=utcnow() + timedelta(hours=ttl_hours), device_session_id=device_session_id)
    session.add(token)
    session.flush()
    return secret, token


class StaffRef:
    """Who is acting, as the token's SELECT read it: the staff id, roles and department, all that
    the case rules (who sees a case, which verbs are theirs, whose department it is) ask of a
    person. Stands in for the ``Staff`` row there, so a verb or a case read needs no staff SELECT."""

    __slots__ = ("id", "roles", "department_id")

    def __init__(self, staff_id: int, roles: frozenset[str], department_id: int | None):
        self.id, self.department_id = staff_id, department_id
        self.roles = sorted(roles)

    def has_role(self, *roles: str) -> bool:
        return not set(self.roles).isdisjoint(roles)


class ResolvedToken:
    """A valid bearer token as a request sees it: the ids, expiry and roles from one Core
    SELECT (token, staff and roles joined), or from this process's cache of it
    (``grid.accounts.token_cache``); the ORM rows only when a view asks for them (``staff``:
    one more statement, ``orm``: the ``ApiToken`` row). Nothing is written but a phone's
    ``last_seen_at`` every ``LAST_SEEN_EVERY``. A revoked token or a disabled account is
    refused on the next request in the process that made the change, and in every other
    process within ``WANGGE_TOKEN_CHECK_SECONDS``."""

    __slots__ = ("_session", "id", "staff_id", "expires_at", "roles", "device_session_id", "department_id",
                 "_staff", "_prefs")

    def __init__(self, session, token_id: int, staff_id: int, expires_at, roles: frozenset[str],
                 device_session_id: int | None = None, preferences: tuple[str | None, str | None] = (None, None),
                 department_id: int | None = None):
        self._session, self.id, self.staff_id, self.expires_at, self.roles = session, token_id, staff_id, expires_at, roles
        self.device_session_id = device_session_id
        self.department_id = department_id
        self._staff = None
        self._prefs = preferences

    @property
    def identity(self) -> StaffRef | Staff:
        """The acting person for the case rules: the staff row once a view has loaded it (a
        change made in this request shows), else the ids and roles read with the token."""
        if self._staff is not None:
            return self._staff
        return StaffRef(self.staff_id, self.roles, self.department_id)

    # The staff member's language and time zone (``wangge.auth``: what an answer's words and
    # times follow), as read with the token, or from the staff row once a view has loaded it
    # (a change made in this request shows): no staff SELECT for an error message.
    @property
    def language(self) -> str | None:
        return self._staff.language if self._staff is not None else self._prefs[0]

    @property
    def timezone(self) -> str | None:
        return self._staff.timezone if self._staff is not None else self._prefs[1]

    def has_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def staff(self) -> Staff:
        if self._staff is None:
            self._staff = self._session.get(Staff, self.staff_id, options=[joinedload(Staff.role_rows)])
        return self._staff

    @property
    def orm(self) -> ApiToken:
        return self._session.get(ApiToken, self.id)


_T, _S, _R, _D = ApiToken.__table__.c, Staff.__table__.c, StaffRole.__table__.c, DeviceSession.__table__.c
_RESOLVE = (select(_T.id, _T.staff_id, _T.revoked_at, _T.expires_at, _S.active, _R.role,
                   _T.device_session_id, _D.revoked_at, _D.last_seen_at, _S.language, _S.timezone, _S.department_id)
            .join_from(ApiToken.__table__, Staff.__table__, _S.id == _T.staff_id)
            .outerjoin(StaffRole.__table__, _R.staff_id == _S.id)
            .outerjoin(DeviceSession.__table__, _D.id == _T.device_session_id)
            .where(_T.token_hash == bindparam("digest")))


def resolve_token(session, secret: str) -> ResolvedToken:
    """The token of a bearer secret, checked: from this process's cache (``token_cache``: no
    statement while the credentials version has not moved) or one SELECT."""
    digest = _token_digest(secret)
    cache = token_cache.current(session)
    entry = cache.get(digest)
    now = utcnow()
    if entry is None:
        rows = session.execute(_RESOLVE, {"digest": digest}).all()
        if not rows:
            raise ApiError("unauthorized", status=401)
        (token_id, staff_id, revoked_at, expires_at, active, _, device_id, device_revoked_at, last_seen_at,
         language, timezone, department_id) = rows[0]
        if revoked_at is not None or device_revoked_at is not None:  # a phone's token dies with its device
            raise ApiError("token_revoked", status=401)
        if expires_at <= now:
            raise ApiError("token_expired", status=401)
        if not active:
            raise ApiError("account_disabled", status=403)
        entry = token_cache.Entry(token_id, staff_id, expires_at, frozenset(r[5] for r in rows if r[5] is not None),
                                  device_id, last_seen_at, (language, timezone), department_id)
        cache.put(digest, entry)
    elif entry.expires_at <= now:
        raise ApiError("token_expired", status=401)
    if entry.device_session_id is not None and now - entry.last_seen_at >= LAST_SEEN_EVERY:
        session.execute(update(DeviceSession).where(DeviceSession.id == entry.device_session_id)
                        .values(last_seen_at=now))
        entry.last_seen_at = now
    return ResolvedToken(session, entry.token_id, entry.staff_id, entry.expires_at, entry.roles,
                         entry.device_session_id, entry.preferences, entry.department_id)


def revoke_token(token: ApiToken | ResolvedToken) -> None:
    if isinstance(token, ResolvedToken):
        token = token.orm
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def revoke_all(session, staff: Staff) -> int:
    """Every credential of ``staff`` (password changed, account disabled): access tokens, and
    device sessions with their refresh tokens. The number of access tokens revoked."""
    tokens = session.scalars(select(ApiToken).where(ApiToken.staff_id == staff.id,
                                                    ApiToken.revoked_at.is_(None))).all()
    for token in tokens:
        revoke_token(token)
    now = utcnow()
    devices = select(DeviceSession.id).where(DeviceSession.staff_id == staff.id)
    session.execute(update(RefreshToken).where(RefreshToken.device_session_id.in_(devices),
                                               RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session=False))
    session.execute(update(DeviceSession).where(DeviceSession.staff_id == staff.id, DeviceSession.revoked_at.is_(None))
                    .values(revoked_at=now, revoked_reason="account_changed")
                    .execution_options(synchronize_session=False))
    token_cache.touched(session)
    return len(tokens)


def current_grid_codes(session, staff: Staff, at=None) -> list[str]:
    """The grid codes ``staff`` is assigned to at ``at`` (now), sorted."""
    at = at or utcnow()
    return sorted(set(session.scalars(select(GridAssignment.grid_code).where(
        GridAssignment.staff_id == staff.id, GridAssignment.valid_from <= at,
        (GridAssignment.valid_to.is_(None)) | (GridAssignment.valid_to > at)))))
