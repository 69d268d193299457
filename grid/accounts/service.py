"""Staff accounts: argon2 password hashes, bearer tokens with expiry and revocation."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from grid.models import ApiToken, Staff, StaffRole
from grid.roles import ROLES
from wangge.errors import ApiError, validation_error
from wangge.i18n import t
from wangge.timeutil import utcnow

_hasher = PasswordHasher()
# Verifying against a dummy hash for unknown users keeps timing from revealing usernames.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


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


def issue_token(session, staff: Staff, *, ttl_hours: int, client: str | None = None) -> tuple[str, ApiToken]:
    secret = secrets.token_urlsafe(32)
    token = ApiToken(staff_id=staff.id, token_hash=_token_digest(secret), client=client,
                     expires_at=utcnow() + timedelta(hours=ttl_hours))
    session.add(token)
    session.flush()
    return secret, token


class ResolvedToken:
    """A valid bearer token as a request sees it: the ids, expiry and roles from one Core
    SELECT (token, staff and roles joined); the ORM rows only when a view asks for them
    (``staff``: one more statement, ``orm``: the ``ApiToken`` row). Nothing is cached across
    requests and nothing is written: a revoked token or a disabled account is refused on the
    very next request."""

    __slots__ = ("_session", "id", "staff_id", "expires_at", "roles", "_staff")

    def __init__(self, session, token_id: int, staff_id: int, expires_at, roles: frozenset[str]):
        self._session, self.id, self.staff_id, self.expires_at, self.roles = session, token_id, staff_id, expires_at, roles
        self._staff = None

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


_T, _S, _R = ApiToken.__table__.c, Staff.__table__.c, StaffRole.__table__.c
_RESOLVE = (select(_T.id, _T.staff_id, _T.revoked_at, _T.expires_at, _S.active, _R.role)
            .join_from(ApiToken.__table__, Staff.__table__, _S.id == _T.staff_id)
            .outerjoin(StaffRole.__table__, _R.staff_id == _S.id)
            .where(_T.token_hash == bindparam("digest")))


def resolve_token(session, secret: str) -> ResolvedToken:
    rows = session.execute(_RESOLVE, {"digest": _token_digest(secret)}).all()
    if not rows:
        raise ApiError("unauthorized", status=401)
    token_id, staff_id, revoked_at, expires_at, active, _ = rows[0]
    if revoked_at is not None:
        raise ApiError("token_revoked", status=401)
    if expires_at <= utcnow():
        raise ApiError("token_expired", status=401)
    if not active:
        raise ApiError("account_disabled", status=403)
    return ResolvedToken(session, token_id, staff_id, expires_at, frozenset(r[5] for r in rows if r[5] is not None))


def revoke_token(token: ApiToken | ResolvedToken) -> None:
    if isinstance(token, ResolvedToken):
        token = token.orm
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def revoke_all(session, staff: Staff) -> int:
    tokens = session.scalars(select(ApiToken).where(ApiToken.staff_id == staff.id,
                                                    ApiToken.revoked_at.is_(None))).all()
    for token in tokens:
        revoke_token(token)
    return len(tokens)
