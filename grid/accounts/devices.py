"""Device sessions: a phone signs in once and keeps a refresh token; short-lived access tokens
(the ordinary ``ApiToken`` bearer tokens, linked to the session) come from rotating it.

* Rotation: each refresh spends the presented refresh token (``used_at``) and issues a new
  refresh token and a new access token.
* Reuse detection: a spent refresh token presented again means that someone kept a copy (or
  two requests raced with one token). The whole family is revoked: the device session, every
  refresh token and every access token of it (401 ``refresh_token_reused``). The caller must
  commit that revocation although the answer is an error (:class:`RefreshTokenReused`).
* Races: a refresh first locks its family's device session row (by writing to it), so two
  refreshes with one token run one after the other: the first rotates, the second finds the
  token spent and revokes the family. Signing devices out locks the rows it revokes too.

Only SHA-256 digests of refresh tokens are stored, like access tokens."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from grid.accounts import token_cache
from grid.accounts.service import authenticate, issue_token
from grid.models import ApiToken, DeviceSession, RefreshToken, Staff
from wangge.errors import ApiError, NotFound
from wangge.timeutil import utcnow


class RefreshTokenReused(ApiError):
    """A spent refresh token came back: the family is revoked in the session, and the caller
    commits that before answering 401."""

    status = 401

    def __init__(self):
        super().__init__("refresh_token_reused")


@dataclass
class Issued:
    """What a sign-in or a refresh hands the phone (the secrets are shown once)."""
    device: DeviceSession
    access_secret: str
    access: ApiToken
    refresh_secret: str
    refresh: RefreshToken


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _issue(session, device: DeviceSession, staff: Staff, *, access_minutes: int, refresh_days: int) -> Issued:
    now = utcnow()
    refresh_secret = secrets.token_urlsafe(32)
    refresh = RefreshToken(device_session_id=device.id, token_hash=_digest(refresh_secret), created_at=now,
                           expires_at=now + timedelta(days=refresh_days))
    session.add(refresh)
    access_secret, access = issue_token(session, staff, ttl_hours=access_minutes / 60,
                                        client=f"device:{device.platform}", device_session_id=device.id)
    device.last_seen_at = now
    session.flush()
    return Issued(device, access_secret, access, refresh_secret, refresh)


def sign_in(session, *, username: str, password: str, device_id: str, device_name: str | None,
            platform: str, access_minutes: int, refresh_days: int) -> Issued:
    """Check the password and open a device session. Signing in again on the same device
    (same person, same ``device_id``) replaces that device's earlier session."""
    staff = authenticate(session, username, password)
    # One sign-in of a person at a time (a row lock that still lets rows naming the person be
    # written): two sign-ins on one device at the same moment (a double tap) would otherwise
    # both find no earlier session and leave two signed in.
    session.execute(select(Staff.id).where(Staff.id == staff.id).with_for_update(key_share=True))
    for earlier in session.scalars(select(DeviceSession).where(
            DeviceSession.staff_id == staff.id, DeviceSession.device_id == device_id,
            DeviceSession.revoked_at.is_(None)).with_for_update(of=DeviceSession)):
        revoke_family(session, earlier, reason="replaced")
    device = DeviceSession(staff_id=staff.id, device_id=device_id, device_name=device_name, platform=platform)
    session.add(device)
    session.flush()
    return _issue(session, device, staff, access_minutes=access_minutes, refresh_days=refresh_days)


def refresh(session, secret: str, *, access_minutes: int, refresh_days: int) -> Issued:
    """Rotate: spend ``secret`` and issue a new refresh and access token. A spent token is
    reuse (:class:`RefreshTokenReused`, the family revoked in ``session``)."""
    digest = _digest(secret)
    # Lock the family before reading anything, with a write to its device session row: a row
    # lock on PostgreSQL (the second of two racing refreshes waits here until the first has
    # committed), the write lock on SQLite (where a read first would make the second writer
    # fail instead of wait).
    family = select(RefreshToken.device_session_id).where(RefreshToken.token_hash == digest).scalar_subquery()
    locked = session.execute(update(DeviceSession).where(DeviceSession.id == family)
                             .values(last_seen_at=DeviceSession.last_seen_at)
                             .execution_options(synchronize_session=False))
    if locked.rowcount != 1:
        raise ApiError("refresh_token_invalid", status=401)
    token = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest)
                           .execution_options(populate_existing=True))
    device = token and session.scalar(select(DeviceSession).where(DeviceSession.id == token.device_session_id)
                                      .execution_options(populate_existing=True))
    if device is None or token is None:
        raise ApiError("refresh_token_invalid", status=401)
    if device.revoked_at is not None or token.revoked_at is not None:
        raise ApiError("refresh_token_revoked", status=401)
    if token.used_at is not None:
        revoke_family(session, device, reason="reuse")
        raise RefreshTokenReused()
    now = utcnow()
    if token.expires_at <= now:
        raise ApiError("refresh_token_expired", status=401)
    if not device.staff.active:
        raise ApiError("account_disabled", status=403)
    # Spent only if still unspent (a second guard beside the lock: never two rotations of one token).
    spent = session.execute(update(RefreshToken).where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
                            .values(used_at=now).execution_options(synchronize_session=False))
    if spent.rowcount != 1:
        revoke_family(session, device, reason="reuse")
        raise RefreshTokenReused()
    return _issue(session, device, device.staff, access_minutes=access_minutes, refresh_days=refresh_days)


def revoke_family(session, device: DeviceSession, *, reason: str) -> None:
    """Revoke the device session, all its refresh tokens and all its access tokens."""
    now = utcnow()
    if device.revoked_at is None:
        device.revoked_at, device.revoked_reason = now, reason
    session.execute(update(RefreshToken).where(RefreshToken.device_session_id == device.id,
                                               RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session=False))
    session.execute(update(ApiToken).where(ApiToken.device_session_id == device.id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session=False))
    token_cache.touched(session)
    session.flush()


def devices_of(session, staff: Staff) -> list[DeviceSession]:
    """The staff member's signed-in devices, most recently seen first."""
    return list(session.scalars(select(DeviceSession).where(
        DeviceSession.staff_id == staff.id, DeviceSession.revoked_at.is_(None))
        .order_by(DeviceSession.last_seen_at.desc(), DeviceSession.id.desc())))


def sign_out_device(session, staff: Staff, device_id: int) -> DeviceSession:
    """Sign one of my devices out (a lost phone). Another person's device is not found.
    Signing out a device already signed out changes nothing."""
    device = session.scalar(select(DeviceSession).where(DeviceSession.id == device_id,
                                                        DeviceSession.staff_id == staff.id).with_for_update(of=DeviceSession))
    if device is None:
        raise NotFound("device", device_id)
    revoke_family(session, device, reason="signed_out")
    return device


def sign_out_all(session, staff: Staff, *, reason: str = "signed_out_by_admin") -> int:
    """Sign every device of ``staff`` out; the number of devices that were signed in."""
    devices = session.scalars(select(DeviceSession).where(
        DeviceSession.staff_id == staff.id, DeviceSession.revoked_at.is_(None)).with_for_update(of=DeviceSession)).all()
    for device in devices:
        revoke_family(session, device, reason=reason)
    return len(devices)

