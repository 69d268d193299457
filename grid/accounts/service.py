"""Staff accounts: argon2 password hashes, bearer tokens with expiry and revocation."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

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


def resolve_token(session, secret: str) -> ApiToken:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(secret)))
    if token is None:
        raise ApiError("unauthorized", status=401)
    now = utcnow()
    if token.revoked_at is not None:
        raise ApiError("token_revoked", status=401)
    if token.expires_at <= now:
        raise ApiError("token_expired", status=401)
    if not token.staff.active:
        raise ApiError("account_disabled", status=403)
    return token


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def revoke_all(session, staff: Staff) -> int:
    tokens = session.scalars(select(ApiToken).where(ApiToken.staff_id == staff.id,
                                                    ApiToken.revoked_at.is_(None))).all()
    for token in tokens:
        revoke_token(token)
    return len(tokens)
