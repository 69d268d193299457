"""The outbox on real PostGIS and real Redis: nothing lost while Redis is down, nothing sent
twice, retries with backoff, dedup by key, inline delivery, pluggable channels."""
from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from shapely.geometry import box
from sqlalchemy import func, select

from dispatch.notifications import notify
from dispatch.notifications.channels import (
    LogChannel,
    SmsChannel,
    WebhookChannel,
    channels_from_settings,
    recipient_key,
)
from dispatch.notifications.models import Delivery, Outbox
from dispatch.notifications.outbox import backoff, deliver, deliver_job, job_id, relay_pending
from grid.accounts.service import issue_token
from tests.conftest import make_settings
from tests.dispatch.conftest import POINT_G1, do, report
from tests.factories import (
    AssignmentFactory,
    DepartmentFactory,
    GridFactory,
    ResponsibilityFactory,
    StaffFactory,
)
from tests.servers import PrivateRedis, free_port
from wangge.extensions import db
from wangge.timeutil import utcnow

# --- helpers -------------------------------------------------------------------------------


class WebhookReceiver:
    """A tiny HTTP server on 127.0.0.1 recording ``X-Wangge-Delivery`` keys; the first
    ``fail_first`` requests are answered 500."""

    def __init__(self, fail_first: int = 0):
        self.accepted: list[str] = []
        self.refused: list[str] = []
        self.bodies: list[dict] = []
        self.fail_left = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["X-Wangge-Delivery"]
                with lock:
                    fail = receiver.fail_left > 0
                    receiver.fail_left -= fail
                    (receiver.refused if fail else receiver.accepted).append(key)
                    if not fail:
                        receiver.bodies.append(body)
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()  # serve_forever polls every 0.5 s
        self.server.server_close()


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture
def own_redis():
    r = PrivateRedis()
    r.start()
    yield r
    r.kill()


def build_city(session) -> dict:
    """What tests.dispatch.conftest's ``city`` has, committed on a database of a test's own:
    grids, departments, handlers (with phones, so SMS has someone to reach), roles, a rule."""
    assert session is db.session  # the factories' session
    GridFactory(code="310101001", name="测试街道", level="street", geom=box(121.40, 31.20, 121.42, 31.21), area_m2=1)
    GridFactory(code="31010100100101", name="一号网格", parent_code="310101001",
                geom=box(121.40, 31.20, 121.41, 31.21), area_m2=1)
    env = DepartmentFactory(code="ENV", name="环卫所")
    dc = DepartmentFactory(code="DC", name="指挥中心", kind="dispatch_center")
    people = {
        "worker1": StaffFactory(roles=["grid_worker"], phone="13900000001"),
        "clerk": StaffFactory(roles=["intake_clerk"], department_id=dc.id),
        "shift": StaffFactory(roles=["shift_leader"], department_id=dc.id),
        "dispatcher": StaffFactory(roles=["dispatcher"], department_id=dc.id),
        "env": StaffFactory(roles=["department_handler"], department_id=env.id, phone="13900000011"),
        "env2": StaffFactory(roles=["department_handler"], department_id=env.id),
        "leader": StaffFactory(roles=["leader"], phone="13900000021"),
    }
    AssignmentFactory(staff=people["worker1"], grid_code="31010100100101")
    ResponsibilityFactory(category_code="E0102", department=env)
    headers = {name: {"Authorization": f"Bearer {issue_token(session, p, ttl_hours=1)[0]}"}
               for name, p in people.items()}
    ids = {name: p.id for name, p in people.items()}
    session.commit()
    return {"headers": headers, "ids": ids, "env_id": env.id}


class HttpCity:
    """Enough of tests.dispatch.conftest.City for ``report``/``do``."""

    def __init__(self, headers):
        self.headers = headers

    def h(self, who):
        return self.headers[who]


def new_dispatched_case(client, city) -> str:
    """Report, accept, open: E0102 is dispatched automatically (a notification to ENV)."""
    n = report(client, city, point=POINT_G1)["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    return n


def expected_receipts(session, channel_names: list[str]) -> set[tuple[int, str, str]]:
    out = set()
    for row in session.scalars(select(Outbox)):
        for r in row.payload["recipients"]:
            for name in channel_names:
                if name == "sms" and not r.get("phone"):
                    continue
                out.add((row.id, name, recipient_key(r)))
    return out


def work_burst(app, redis_url: str, queue_name: str) -> None:
    from redis import Redis
    from rq import Queue, SimpleWorker

    conn = Redis.from_url(redis_url)
    with app.app_context():
        SimpleWorker([Queue(queue_name, connection=conn)], connection=conn).work(burst=True)


def dispose(app):
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


# --- the Redis-down run --------------------------------------------------------------------


def test_redis_down_mid_run_loses_nothing_and_sends_nothing_twice(fresh_pg_url, own_redis, receiver):
    """Requests that relay after their commit (``WANGGE_RELAY_INTERVAL_SECONDS=0``) keep
    succeeding while Redis is down; their notifications wait in the outbox; once Redis is back
    (empty: the queued jobs died with it) one relay and one worker deliver every row, each
    (row, channel, recipient) once, and the webhook sees every key once. (The default, workers
    relaying: tests/outage/test_redis_outage.py with a real ``wangge worker``.)"""
    from redis import Redis
    from rq import Queue

    from dispatch.clocks.ticker import tick
    from wangge import create_app

    queue_name = f"t{uuid.uuid4().hex[:8]}"
    channels = ["log", "webhook", "sms"]
    app = create_app(make_settings(fresh_pg_url, redis_url=own_redis.url, queue_name=queue_name,
                                   notification_channels=",".join(channels), webhook_url=receiver.url,
                                   relay_interval_seconds=0))
    try:
        with app.app_context():
            built = build_city(db.session)
        city = HttpCity(built["headers"])
        client = app.test_client()
        q = Queue(queue_name, connection=Redis.from_url(own_redis.url))

        # 1. Redis up: each request relays what it wrote; a worker delivers it.
        first = [new_dispatched_case(client, city) for _ in range(2)]
        assert q.count == 2  # one dispatch notification per case, enqueued after each commit
        work_burst(app, own_redis.url, queue_name)
        assert q.count == 0

        # 2. More work is enqueued, then Redis dies before any worker takes it.
        second = [new_dispatched_case(client, city) for _ in range(2)]
        do(client, city, "leader", first[0], "urge", note="请尽快处理")
        assert q.count == 3
        own_redis.kill()

        # 3. Redis down: requests still succeed, rows wait in the outbox.
        for _ in range(2):
            new_dispatched_case(client, city)  # each request answers 2xx although Redis is gone
        for n in first + second:
            do(client, city, "leader", n, "supervise", note="督办")
        with app.app_context():
            # the worker's tick, too: the sweep commits its rows although the relay cannot run
            swept = tick(db.session, now=utcnow() + timedelta(days=30))
            assert swept["relay"]["redis"] == "down"
            assert swept["warnings"] == swept["overdue"] == 6  # every running clock of the 6 cases
            assert relay_pending(db.session)["redis"] == "down"
            rows = db.session.scalars(select(Outbox).order_by(Outbox.id)).all()
            assert len(rows) == 2 + 3 + 2 + 4 + 12
            assert sum(r.delivered_at is not None for r in rows) == 2
            never_enqueued = [r for r in rows if r.enqueued_at is None]
            assert len(never_enqueued) == 2 + 4 + 12 and all(r.delivered_at is None for r in never_enqueued)
            lost = [r for r in rows if r.enqueued_at is not None and r.delivered_at is None]
            assert len(lost) == 3  # enqueued in step 2, their jobs died with Redis
            db.session.remove()

        # 4. Redis is back, empty. One relay hands over every pending row, lost jobs included.
        own_redis.start()
        assert q.count == 0
        with app.app_context():
            counts = relay_pending(db.session, stale_after=timedelta(0))
            assert counts == {"redis": "up", "enqueued": 18, "requeued": 3, "alive": 0}
            # a second relay right away (say, another worker's ticker) adds nothing
            assert relay_pending(db.session, stale_after=timedelta(0))["enqueued"] == 0
            db.session.remove()
        work_burst(app, own_redis.url, queue_name)

        with app.app_context():
            s = db.session
            rows = s.scalars(select(Outbox)).all()
            assert rows and all(r.delivered_at is not None and r.attempts == 0 for r in rows)
            receipts = [(d.outbox_id, d.channel, d.recipient) for d in s.scalars(select(Delivery))]
            assert len(receipts) == len(set(receipts))
            assert set(receipts) == expected_receipts(s, channels)
            # deadline rows reached the leader on overdue only; sms only where there is a phone
            leader = f"staff:{built['ids']['leader']}"
            by_key = {r.dedup_key: {d[2] for d in receipts if d[0] == r.id} for r in rows}
            assert all(leader in who for key, who in by_key.items() if key.endswith(":overdue"))
            assert not any(leader in who for key, who in by_key.items() if key.endswith(":warning"))
            webhook_keys = {f"{r.dedup_key}/webhook/{d[2]}" for r in rows for d in receipts
                            if d[0] == r.id and d[1] == "webhook"}
            db.session.remove()
        assert Counter(receiver.accepted).most_common(1)[0][1] == 1, "a webhook key arrived twice"
        assert set(receiver.accepted) == webhook_keys and not receiver.refused

        # 5. Duplicate jobs for every row (a second relay racing, a retried job) change nothing.
        with app.app_context():
            for row_id in s.scalars(select(Outbox.id)):
                q.enqueue(deliver_job, row_id)
            db.session.remove()
        work_burst(app, own_redis.url, queue_name)
        with app.app_context():
            assert db.session.scalar(select(func.count(Delivery.id))) == len(receipts)
            db.session.remove()
        assert len(receiver.accepted) == len(webhook_keys)
    finally:
        dispose(app)


# --- retries, dedup, inline ----------------------------------------------------------------


class RecordingChannel(LogChannel):
    name = "record"

    def __init__(self):
        self.sent: list[str] = []

    def send(self, message, recipient, key):
        super().send(message, recipient, key)
        self.sent.append(key)


def _row(session, key="test:1", recipients=None) -> Outbox:
    recipients = recipients if recipients is not None else [
        {"kind": "staff", "id": 901, "name": "甲", "phone": "13900000901"},
        {"kind": "staff", "id": 902, "name": "乙", "phone": None}]
    row_id = notify.add(session, key, "test", {"template": "t", "text_zh": "测试", "text_en": "test",
                                                "recipients": recipients})
    session.flush()
    row = None if row_id is None else session.get(Outbox, row_id)
    return row


def test_dedup_by_key(db_session):
    first = _row(db_session, "dedup:1")
    assert _row(db_session, "dedup:1") is None  # the same key again: no second row
    assert db_session.scalar(select(func.count(Outbox.id)).where(Outbox.dedup_key == "dedup:1")) == 1
    channel = RecordingChannel()
    assert deliver(db_session, first.id, channels=[channel]) == {"status": "delivered", "sent": 2}
    assert deliver(db_session, first.id, channels=[channel]) == {"status": "already", "sent": 0}
    assert len(channel.sent) == 2 and len(set(channel.sent)) == 2


def test_failing_webhook_is_retried_with_backoff_through_rq(app, db_session, redis_conn, monkeypatch):
    """The webhook answers 500 twice: each failure backs off (10 s, then 20 s) while the log
    channel is not repeated; the third try delivers; every key reached the receiver once."""
    from rq import Queue, SimpleWorker

    bad = WebhookReceiver(fail_first=2)
    try:
        queue_name = f"t{uuid.uuid4().hex[:8]}"
        monkeypatch.setattr(app.config["WANGGE"], "queue_name", queue_name)
        record = RecordingChannel()
        app.extensions["wangge.channels"] = [record, WebhookChannel(bad.url)]
        q = Queue(queue_name, connection=redis_conn)
        worker = SimpleWorker([q], connection=redis_conn)
        row = _row(db_session, "retry:1")
        db_session.commit()

        t0 = utcnow()
        assert relay_pending(db_session, now=t0, ids={row.id})["enqueued"] == 1
        assert q.job_ids == [job_id(row.id, 0, queue_name)]
        worker.work(burst=True)
        db_session.expire_all()
        assert row.delivered_at is None and row.attempts == 1 and row.enqueued_at is None
        assert "500" in row.last_error
        assert row.available_at - t0 >= backoff(1) == timedelta(seconds=10)
        assert len(record.sent) == 2  # the log-like channel reached both recipients

        assert relay_pending(db_session, now=t0 + timedelta(seconds=5))["enqueued"] == 0  # still backing off
        when = row.available_at + timedelta(seconds=1)
        assert relay_pending(db_session, now=when)["enqueued"] == 1
        assert q.job_ids == [job_id(row.id, 1, queue_name)]
        worker.work(burst=True)
        db_session.expire_all()
        assert row.attempts == 2 and row.delivered_at is None
        assert backoff(2) == timedelta(seconds=20) and backoff(30) == timedelta(hours=1)

        assert relay_pending(db_session, now=row.available_at + timedelta(seconds=1))["enqueued"] == 1
        worker.work(burst=True)
        db_session.expire_all()
        assert row.delivered_at is not None and row.attempts == 2 and row.last_error is None
        assert len(record.sent) == 2
        assert bad.refused == ["retry:1/webhook/staff:901"] * 2
        assert sorted(bad.accepted) == ["retry:1/webhook/staff:901", "retry:1/webhook/staff:902"]
        assert db_session.scalar(select(func.count(Delivery.id)).where(Delivery.outbox_id == row.id)) == 4
        assert len(q.failed_job_registry) == 0
    finally:
        app.extensions.pop("wangge.channels", None)
        bad.close()


def test_inline_mode_delivers_with_the_request(client, city, app, db_session, monkeypatch):
    monkeypatch.setattr(app.config["WANGGE"], "jobs_inline", True)
    n = report(client, city)["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")  # auto-dispatch: ENV's handlers are told
    db_session.expire_all()
    rows = db_session.scalars(select(Outbox).where(Outbox.payload["case"].as_string() == n)).all()
    assert [r.dedup_key.split(":")[0] for r in rows] == ["event"]
    assert rows[0].delivered_at is not None
    receipts = db_session.scalars(select(Delivery).where(Delivery.outbox_id == rows[0].id)).all()
    assert [(d.channel, d.recipient) for d in receipts] == [("log", f"staff:{city.staff['env'].id}")]


def test_by_default_a_request_leaves_its_rows_to_the_workers_relay(client, city, app, db_session, monkeypatch,
                                                                    redis_conn):
    """No Redis command in the request (so nothing to wait for when Redis is unreachable): the
    row is pending, unclaimed; the relay each worker runs every half second hands it to rq."""
    from rq import Queue

    from dispatch.notifications.outbox import relay_loop

    monkeypatch.setattr(app.config["WANGGE"], "queue_name", f"t{uuid.uuid4().hex[:8]}")
    assert app.config["WANGGE"].relay_interval_seconds > 0  # the default
    q = Queue(app.config["WANGGE"].queue_name, connection=redis_conn)
    real_url = app.config["WANGGE"].redis_url
    monkeypatch.setattr(app.config["WANGGE"], "redis_url", f"redis://127.0.0.1:{free_port()}/0")  # nobody there
    n = report(client, city)["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")  # auto-dispatched or not, notifications were written
    rows = db_session.scalars(select(Outbox).where(Outbox.payload["case"].as_string() == n)).all()
    assert rows and all(r.enqueued_at is None and r.delivered_at is None for r in rows)
    relay_loop(db_session)  # Redis still away: they stay pending
    db_session.expire_all()
    assert all(r.enqueued_at is None for r in rows)
    monkeypatch.setattr(app.config["WANGGE"], "redis_url", real_url)
    relay_loop(db_session)
    db_session.expire_all()
    assert all(r.enqueued_at is not None for r in rows)
    assert sorted(q.job_ids) == sorted(job_id(r.id, 0) for r in rows)


def test_request_relays_its_rows_to_redis_and_survives_redis_down(client, city, app, db_session, monkeypatch,
                                                                  redis_conn):
    from rq import Queue

    monkeypatch.setattr(app.config["WANGGE"], "queue_name", f"t{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(app.config["WANGGE"], "relay_interval_seconds", 0)  # requests relay after their commit
    n = report(client, city)["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    row = db_session.scalars(select(Outbox).where(Outbox.payload["case"].as_string() == n)).one()
    assert row.enqueued_at is not None and row.delivered_at is None
    assert Queue(app.config["WANGGE"].queue_name, connection=redis_conn).job_ids == [job_id(row.id, 0)]

    monkeypatch.setattr(app.config["WANGGE"], "redis_url", f"redis://127.0.0.1:{free_port()}/0")  # nobody there
    do(client, city, "leader", n, "urge", note="快")
    urge = db_session.scalars(select(Outbox).where(Outbox.payload["template"].as_string() == "urge")).one()
    assert urge.enqueued_at is None and urge.delivered_at is None  # pending, not lost


# --- channels ------------------------------------------------------------------------------


class RecordingGateway:
    sent: list = []

    def send(self, phone, text, key):
        RecordingGateway.sent.append((phone, text, key))


def test_channels_from_settings_and_a_plugged_sms_gateway():
    from wangge.config import Settings

    chans = channels_from_settings(Settings(notification_channels=" log, webhook ,sms,log",
                                            webhook_url="http://127.0.0.1:9/x"))
    assert [c.name for c in chans] == ["log", "webhook", "sms"]
    assert [c.name for c in channels_from_settings(Settings())] == ["log"]
    with pytest.raises(ValueError, match="fax"):
        channels_from_settings(Settings(notification_channels="log,fax"))
    with pytest.raises(ValueError, match="WEBHOOK_URL"):
        channels_from_settings(Settings(notification_channels="webhook"))

    sms = channels_from_settings(Settings(notification_channels="sms"),
                                 sms_gateway="tests.dispatch.test_outbox:RecordingGateway")[0]
    assert isinstance(sms, SmsChannel) and isinstance(sms.gateway, RecordingGateway)
    assert not sms.accepts({"kind": "staff", "id": 1, "phone": None})
    sms.send({"text_zh": "【1】已派遣", "text_en": "[1] dispatched"}, {"kind": "citizen", "phone": "139"}, "k1")
    assert RecordingGateway.sent[-1] == ("139", "【1】已派遣", "k1")


def test_webhook_channel_posts_json_with_the_delivery_key(receiver):
    WebhookChannel(receiver.url).send({"text_zh": "你好", "topic": "t"}, {"kind": "staff", "id": 7}, "event:1/webhook/staff:7")
    assert receiver.accepted == ["event:1/webhook/staff:7"]
    assert receiver.bodies[0]["message"]["text_zh"] == "你好" and receiver.bodies[0]["recipient"]["id"] == 7
    with pytest.raises(OSError):  # nobody listening: an error, so the outbox retries
        WebhookChannel(f"http://127.0.0.1:{free_port()}/").send({}, {"kind": "staff", "id": 7}, "k")
