"""Staff accounts: argon2 password hashes, bearer tokens with expiry and revocation."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

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


def resolve_token(session, secret: str) -> ApiToken:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(secret)))
    if token is None:
        raise ApiError("unauthorized", status=401)
    now = utcnow()
    device = token.device_session
    if token.revoked_at is not None or (device is not None and device.revoked_at is not None):
        raise ApiError("token_revoked", status=401)
    if token.expires_at <= now:
        raise ApiError("token_expired", status=401)
    if not token.staff.active:
        raise ApiError("account_disabled", status=403)
    if device is not None and now - device.last_seen_at >= LAST_SEEN_EVERY:
        device.last_seen_at = now
    return token


def revoke_token(token: ApiToken) -> None:
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
    return len(tokens)


def current_grid_codes(session, staff: Staff, at=None) -> list[str]:
    """The grid codes ``staff`` is assigned to at ``at`` (now), sorted."""
    at = at or utcnow()
    return sorted(set(session.scalars(select(GridAssignment.grid_code).where(
        GridAssignment.staff_id == staff.id, GridAssignment.valid_from <= at,
        (GridAssignment.valid_to.is_(None)) | (GridAssignment.valid_to > at)))))
