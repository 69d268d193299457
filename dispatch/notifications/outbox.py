"""Delivering the outbox: rows written by ``dispatch.notifications.notify`` in the transaction of the change
that caused them are relayed to rq and delivered through the configured channels.

- ``relay_pending`` claims pending rows (``FOR UPDATE SKIP LOCKED``), marks them enqueued and
  commits, then enqueues one job per row with a deterministic id. When Redis is unreachable it
  logs and leaves every row as it was: nothing is lost, the next relay (after a request, from
  the worker's ticker or ``wangge sla relay``) picks them up. Rows marked enqueued long ago but
  still undelivered whose job is gone from Redis (Redis restarted empty, a worker died) are
  enqueued again: after ``STALE_AFTER`` normally, and at once when Redis comes back empty (a
  marker key that a full relay leaves in Redis is gone, so every queued job went with it).
- ``deliver`` locks the row and sends it to each channel x recipient that has no ``Delivery``
  receipt yet; the unique receipts make each (message, channel, recipient) go out once from our
  side, whoever runs the job and however often. A failing channel schedules a retry with
  exponential backoff; what was already delivered stays delivered.
- In the embedded default (no Redis: ``run_jobs_inline``) ``relay_pending`` delivers directly.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

from flask import current_app, has_request_context
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job
from sqlalchemy import event, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import object_session

from dispatch.notifications.channels import accepts, channels_from_settings, recipient_key
from dispatch.notifications.models import Delivery, Outbox
from wangge.config import current_settings
from wangge.extensions import db
from wangge.jobs import redis_connection, with_app
from wangge.timeutil import utcnow

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 10.0
BACKOFF_CAP_SECONDS = 3600.0
STALE_AFTER = timedelta(minutes=5)  # enqueued this long ago and undelivered: check that the job still exists
ALIVE = {"queued", "started", "scheduled", "deferred", "created"}
NEW_ROWS = "wangge.outbox.new"
CLAIMED = "wangge.outbox.claimed"  # new rows marked enqueued by their INSERT



def backoff(attempts: int) -> timedelta:
    """Delay before retry number ``attempts`` (1, 2, ...): 10 s, 20 s, 40 s, ... capped at 1 h."""
    return timedelta(seconds=min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0)))


def _marker_key(queue_name: str) -> str:
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", queue_name)
    return f"{prefix}-outbox-relayed"


def job_id(outbox_id: int, attempts: int, queue_name: str | None = None) -> str:
    """Deterministic per row and attempt; the queue name keeps deployments sharing a Redis apart."""
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", queue_name or current_settings().queue_name)
    return f"{prefix}-outbox-{outbox_id}-{attempts}"


def configured_channels() -> list:
    """The app's channels (built once per app); ``app.extensions["wangge.channels"]`` may hold
    a list of channel objects to use instead."""
    override = current_app.extensions.get("wangge.channels")
    if override is not None:
        return override
    s = current_settings()
    gateway = current_app.config.get("WANGGE_SMS_GATEWAY")
    cache = current_app.extensions.setdefault("wangge.channel_cache", {})
    key = (s.notification_channels, s.webhook_url, id(gateway) if gateway is not None else None,
           s.vapid_private_key, s.vapid_subject, s.push_vendor_url, s.push_vendor_app_key, s.testing,
           s.webpush_hosts, s.push_timeout_seconds)
    if key not in cache:
        cache[key] = channels_from_settings(s, sms_gateway=gateway)
    return cache[key]


def relay_queue():
    """The app's rq queue for relaying, on a client that gives up quickly when Redis is away
    (a request relays after its commit and must not hang on an unreachable host)."""


    s = current_settings()
    cache = current_app.extensions.setdefault("wangge.relay_queues", {})
    key = (s.redis_url, s.queue_name)
    if key not in cache:
        cache[key] = Queue(s.queue_name, connection=redis_connection(
            s.redis_url, socket_connect_timeout=2, socket_timeout=5))
    return cache[key]


# --- rows created by the current transaction (relayed right after the request commits) -----

@event.listens_for(Outbox, "after_insert")
def _remember_new_row(mapper, connection, target):
    session = object_session(target)
    if session is not None:
        session.info.setdefault(NEW_ROWS, set()).add(target.id)


def take_new_ids(session) -> set[int]:
    """Ids of outbox rows inserted through ``session`` since the last call (then forgotten)."""
    session.info.pop(CLAIMED, None)
    return session.info.pop(NEW_ROWS, set())


def forget_new_rows(session) -> None:
    """After a rollback: the rows this request wrote are gone, nothing to relay."""
    take_new_ids(session)


def relays_after_commit() -> bool:
    """Whether a request hands its rows to rq itself, right after its commit: only when jobs
    go through Redis and ``WANGGE_RELAY_INTERVAL_SECONDS`` is 0. By default the workers relay
    (``relay_loop``, every half second) and a request never touches Redis: no Redis command
    and no wait for an unreachable Redis host in a request, and a worker enqueues many rows
    at a time."""
    s = current_settings()
    return not s.run_jobs_inline and s.relay_interval_seconds <= 0


def workers_relay() -> bool:
    """Whether the workers' relay loop hands requests' rows to rq (the default with Redis)."""
    s = current_settings()
    return not s.run_jobs_inline and s.relay_interval_seconds > 0


def claim_at_birth(session) -> bool:
    """Whether rows written now are marked enqueued in their own INSERT: in a request that
    relays after its commit (``relays_after_commit``), so ``relay_after_commit`` enqueues
    their jobs with no second transaction; should that never happen (the process died in
    between), the relay treats them as lost jobs after ``STALE_AFTER``. Otherwise (the
    workers relay; outside a request: the sweep, a CLI command, a job) rows stay unclaimed
    for the relay to claim."""
    return has_request_context() and relays_after_commit()


def claimed(session, ids) -> None:
    session.info.setdefault(CLAIMED, set()).update(ids)


def written(session, ids, *, claim: bool) -> None:
    """Rows this transaction inserted by a Core statement: relayed after its commit
    (``relay_after_commit``), and, when ``claim`` (``claim_at_birth``), already marked enqueued."""
    session.info.setdefault(NEW_ROWS, set()).update(ids)
    if claim:
        claimed(session, ids)


def relay_after_commit(session, limit: int = 50) -> dict | None:
    """Relay the rows the just-committed request created. Never raises: the request is done."""
    mine = session.info.get(CLAIMED, set())
    ids = take_new_ids(session)
    if not ids:
        return None
    if workers_relay():
        return None  # the workers' relay loop hands them over
    try:
        if current_settings().run_jobs_inline:
            # delivered now, each in its own short transaction (no claiming SELECT first)
            results = [deliver(session, outbox_id) for outbox_id in sorted(ids)]
            return {"redis": "inline", "delivered": sum(r["status"] == "delivered" for r in results),
                    "failed": sum(r["status"] == "retry" for r in results)}
        counts = {"redis": "up", "enqueued": 0, "requeued": 0, "alive": 0}
        if ids & mine:
            _enqueue_claimed(session, sorted(ids & mine), counts)
        if ids - mine and counts["redis"] == "up":
            found = relay_pending(session, limit=limit, ids=ids - mine)
            counts = {k: counts.get(k, 0) + v if k != "redis" else v for k, v in found.items()}
        return counts
    except Exception:  # the rows are committed; the ticker or ``wangge sla relay`` sends them later
        log.exception("relaying outbox rows %s after the request failed; they stay pending", sorted(ids))
        try:
            session.rollback()
        except Exception:  # pragma: no cover - the session is beyond help; the request is over anyway
            pass
        return None


def _enqueue_claimed(session, ids: list[int], counts: dict) -> None:
    """Enqueue the jobs of rows claimed at birth (first attempt). Redis failing: the rows not
    enqueued are unclaimed again (one UPDATE), so the relay hands them over when it is back."""
    q = relay_queue()
    queue_name = current_settings().queue_name
    for index, outbox_id in enumerate(ids):
        try:
            q.enqueue(deliver_job, outbox_id, job_id=job_id(outbox_id, 0, queue_name), unique=True, result_ttl=3600,
                      failure_ttl=7 * 86400, description=f"deliver outbox {outbox_id}")
        except DuplicateJobError:
            counts["alive"] += 1
            continue
        except Exception as exc:
            rest = ids[index:]
            log.warning("Redis unreachable (%s): %d outbox rows stay pending until it is back", exc, len(rest))
            session.execute(update(Outbox).where(Outbox.id.in_(rest), Outbox.delivered_at.is_(None),
                                                 Outbox.attempts == 0).values(enqueued_at=None))
            session.commit()
            counts["redis"] = "down"
            return
        counts["enqueued"] += 1


# --- relaying ------------------------------------------------------------------------------

def _pending(now: datetime, ids=None):
    query = select(Outbox).where(Outbox.delivered_at.is_(None), Outbox.available_at <= now)
    if ids is not None:
        query = query.where(Outbox.id.in_(sorted(ids)))
    return query


def _redis_up(conn) -> bool:
    try:
        conn.ping()
        return True
    except Exception as exc:  # redis.ConnectionError, TimeoutError, socket errors
        log.warning("Redis unreachable (%s): outbox rows stay pending until it is back", exc)
        return False


def relay_loop(session) -> None:
    """What each worker process runs every ``WANGGE_RELAY_INTERVAL_SECONDS``
    (``hooks().frequent``): relay what requests wrote since. Nothing when jobs run inline or
    requests relay themselves."""
    if not workers_relay():
        return
    counts = relay_pending(session)
    if counts.get("enqueued") or counts.get("requeued"):
        log.info("relayed: %s", counts)


def relay_pending(session, limit: int = 500, *, ids=None, now: datetime | None = None,
                  stale_after: timedelta = STALE_AFTER) -> dict:
    """Hand undelivered, available rows to rq (or deliver them now when jobs run inline).

    Returns counts: ``enqueued`` (first time), ``requeued`` (their job was lost), ``alive``
    (enqueued long ago, job still waiting), ``redis`` ("up", "down" or "inline"). Commits its
    own work, so call it after the transaction that wrote the rows has been committed."""
    s = current_settings()
    now = now or utcnow()
    if s.run_jobs_inline:
        todo = session.scalars(_pending(now, ids).with_only_columns(Outbox.id)
                               .order_by(Outbox.available_at, Outbox.id).limit(limit)).all()
        session.commit()
        results = [deliver(session, outbox_id, now=now) for outbox_id in todo]
        return {"redis": "inline", "delivered": sum(r["status"] == "delivered" for r in results),
                "failed": sum(r["status"] == "retry" for r in results)}

    q = relay_queue()
    counts = {"redis": "up", "enqueued": 0, "requeued": 0, "alive": 0}
    if not _redis_up(q.connection):
        return {**counts, "redis": "down"}

    # A full relay leaves a marker in Redis. Without it Redis has been emptied (restarted
    # without persistence, flushed): the jobs of rows marked enqueued are gone, so every such
    # row is looked at now, in batches until none is left, rather than after ``stale_after``.
    emptied = ids is None and _redis_emptied(q.connection, s.queue_name)
    if emptied:
        log.info("Redis has no relay marker (restarted empty?): re-checking every enqueued outbox row now")
    while True:
        # rows this relay already handled carry ``enqueued_at == now``: a later batch skips them
        stale = Outbox.enqueued_at < now if emptied else Outbox.enqueued_at <= now - stale_after
        found = _relay_batch(session, q, _pending(now, ids).where(or_(Outbox.enqueued_at.is_(None), stale)),
                             now, limit, counts)
        if counts["redis"] == "down":
            return counts
        if not emptied or found < limit:
            break
    if ids is None and found < limit:
        _leave_marker(q.connection, s.queue_name)
    return counts


def _relay_batch(session, q, query, now: datetime, limit: int, counts: dict) -> int:
    """Claim up to ``limit`` rows of ``query``, mark them enqueued, commit, enqueue their jobs.
    Updates ``counts`` (``redis`` becomes "down" if Redis failed); returns the rows found."""

    queue_name = current_settings().queue_name
    rows = session.scalars(query.order_by(Outbox.available_at, Outbox.id).limit(limit)
                           .with_for_update(skip_locked=True)).all()
    todo: list[tuple[int, str, bool]] = []
    alive = 0
    try:
        for row in rows:
            jid = job_id(row.id, row.attempts, queue_name)
            lost = row.enqueued_at is not None
            if lost:
                try:
                    job = Job.fetch(jid, connection=q.connection)
                except NoSuchJobError:
                    job = None
                status = job.get_status(refresh=False) if job is not None else None
                if status is not None and str(getattr(status, "value", status)) in ALIVE:
                    alive += 1
                    row.enqueued_at = now  # still waiting in the queue: look again later
                    continue
                if job is not None:
                    job.delete()
            row.enqueued_at = now
            todo.append((row.id, jid, lost))
    except Exception as exc:  # Redis went away while we looked: leave everything as it was
        log.warning("Redis failed while relaying (%s): outbox rows stay pending", exc)
        session.rollback()
        counts["redis"] = "down"
        return len(rows)
    counts["alive"] += alive
    session.commit()  # marks first, so a worker never finds a row still locked by us

    for index, (outbox_id, jid, lost) in enumerate(todo):
        try:
            q.enqueue(deliver_job, outbox_id, job_id=jid, unique=True, result_ttl=3600, failure_ttl=7 * 86400,
                      description=f"deliver outbox {outbox_id}")
        except DuplicateJobError:
            counts["alive"] += 1
            continue
        except Exception as exc:
            rest = [t[0] for t in todo[index:]]
            log.warning("Redis failed while relaying (%s): %d outbox rows stay pending", exc, len(rest))
            session.execute(update(Outbox).where(Outbox.id.in_(rest), Outbox.delivered_at.is_(None))
                            .values(enqueued_at=None))
            session.commit()
            counts["redis"] = "down"
            break
        counts["requeued" if lost else "enqueued"] += 1
    return len(rows)


def _redis_emptied(conn, queue_name: str) -> bool:
    try:
        return not conn.exists(_marker_key(queue_name))
    except Exception:  # Redis failing now: the relay below finds out and leaves rows pending
        return False


def _leave_marker(conn, queue_name: str) -> None:
    try:
        conn.set(_marker_key(queue_name), utcnow().isoformat())
    except Exception as exc:  # the next full relay tries again
        log.warning("could not leave the relay marker in Redis: %s", exc)


def pending_count(session) -> int:
    return session.scalar(select(func.count(Outbox.id)).where(Outbox.delivered_at.is_(None))) or 0


# --- delivering ----------------------------------------------------------------------------

def _recipients(payload: dict) -> list[tuple[str, dict]]:
    out: dict[str, dict] = {}
    for recipient in payload.get("recipients") or []:
        out.setdefault(recipient_key(recipient), recipient)
    return list(out.items())


def deliver(session, outbox_id: int, *, channels: list | None = None, now: datetime | None = None) -> dict:
    """Send one outbox row to every channel x recipient not yet delivered; commit receipts.

    Returns ``{"status": ...}``: ``delivered``, ``already`` (done before), ``busy`` (another
    worker holds the row, or it does not exist), ``waiting`` (in backoff), ``retry`` (a
    channel failed; retried after the backoff), with ``sent`` (receipts written now)."""
    now = now or utcnow()
    row = session.scalar(select(Outbox).where(Outbox.id == outbox_id).with_for_update(skip_locked=True))
    if row is None:
        session.rollback()
        return {"status": "busy", "sent": 0}
    if row.delivered_at is not None:
        session.rollback()
        return {"status": "already", "sent": 0}
    if row.available_at > now and row.enqueued_at is None:  # a stray job for a row waiting out its backoff
        session.rollback()
        return {"status": "waiting", "sent": 0}

    channels = configured_channels() if channels is None else channels
    # receipts are committed only with ``delivered_at`` or a failed attempt: a row on its
    # first attempt has none, so its first delivery reads nothing more
    done = set() if row.attempts == 0 else {
        (c, r) for c, r in session.execute(select(Delivery.channel, Delivery.recipient)
                                           .where(Delivery.outbox_id == row.id))}
    payload = row.payload or {}
    message = {k: v for k, v in payload.items() if k != "recipients"}
    message.update(topic=row.topic, key=row.dedup_key)
    errors: list[str] = []
    sent = 0
    for channel in channels:
        for rkey, recipient in _recipients(payload):
            if (channel.name, rkey) in done or not accepts(channel, recipient):
                continue
            try:
                channel.send(message, recipient, f"{row.dedup_key}/{channel.name}/{rkey}")
            except Exception as exc:
                errors.append(f"{channel.name} -> {rkey}: {exc}")
                break  # this channel is failing; the others still deliver
            session.add(Delivery(outbox_id=row.id, channel=channel.name, recipient=rkey, delivered_at=utcnow()))
            done.add((channel.name, rkey))
            sent += 1
    if errors:
        row.attempts += 1
        row.available_at = now + backoff(row.attempts)
        row.last_error = "; ".join(errors)[:2000]
        row.enqueued_at = None
        status = "retry"
        log.warning("outbox %s (%s) attempt %d failed, retry at %s: %s", row.id, row.dedup_key, row.attempts,
                    row.available_at.isoformat(), row.last_error)
    else:
        row.delivered_at = now
        row.last_error = None
        status = "delivered"
    try:
        session.commit()
    except IntegrityError:  # a receipt written meanwhile by someone who did not lock (SQLite)
        session.rollback()
        return {"status": "busy", "sent": 0}
    return {"status": status, "sent": sent}


@with_app
def deliver_job(outbox_id: int) -> dict:
    """The rq job: deliver one outbox row in the worker's own app context."""

    return deliver(db.session, outbox_id)


@with_app
def relay_job(limit: int = 500) -> dict:

    return relay_pending(db.session, limit=limit)
