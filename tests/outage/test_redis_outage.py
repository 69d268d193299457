"""Redis stopped mid-run and back, with a real ``wangge worker`` running throughout: nothing
lost, nothing sent twice, and the backlog is delivered promptly once Redis returns."""
from __future__ import annotations

import sys
import uuid
from collections import Counter

from sqlalchemy import func, select

from dispatch.notifications import notify
from dispatch.notifications.models import Delivery, Outbox
from dispatch.notifications.outbox import relay_after_commit
from tests.conftest import make_settings
from tests.outage.conftest import start_wangge, stop_process, wait_until, wangge_env


def write_notifications(app, prefix: str, count: int) -> list[str]:
    """What a request does: outbox rows in its transaction, committed, then relayed."""
    from wangge.extensions import db

    keys = [f"outage:{prefix}:{i}" for i in range(count)]
    with app.app_context():
        for i, key in enumerate(keys):
            notify.add(db.session, key, "test", {"template": "t", "text_zh": "测试", "text_en": "test",
                                                 "recipients": [{"kind": "staff", "id": 1000 + i, "name": "甲"}]})
        db.session.commit()
        relay_after_commit(db.session)
        db.session.remove()
    return [f"{key}/webhook/staff:{1000 + i}" for i, key in enumerate(keys)]


def outbox_state(app) -> tuple[int, int]:
    from wangge.extensions import db

    with app.app_context():
        total = db.session.scalar(select(func.count(Outbox.id)))
        delivered = db.session.scalar(select(func.count(Outbox.id)).where(Outbox.delivered_at.isnot(None)))
        db.session.remove()
    return total, delivered


def test_worker_survives_redis_outage_and_delivers_everything_once(fresh_pg_url, private_redis, receiver,
                                                                   tmp_path):
    from wangge import create_app
    from wangge.extensions import db

    queue_name = f"o{uuid.uuid4().hex[:8]}"
    channels = dict(redis_url=private_redis.url, queue_name=queue_name, notification_channels="webhook",
                    webhook_url=receiver.url)
    # The sweep interval stays at its default minute: prompt recovery must not wait for a tick.
    env = wangge_env(database_url=fresh_pg_url, **channels)
    app = create_app(make_settings(fresh_pg_url, **channels))
    worker = start_wangge(env, "worker", log_path=tmp_path / "worker.log")
    try:
        # 1. Redis up: the worker delivers what requests relay.
        expected = write_notifications(app, "before", 3)
        wait_until(lambda: len(receiver.accepted) >= 3, 60, "the first deliveries")

        # 2. The worker is busy delivering (the receiver holds it), more jobs wait in Redis,
        #    and Redis dies: the waiting jobs die with it.
        receiver.hold()
        expected += write_notifications(app, "queued", 4)
        wait_until(receiver.entered.is_set, 30, "the worker to start a delivery")
        private_redis.kill()

        # 3. Redis down: new notifications are committed and wait in the outbox.
        expected += write_notifications(app, "during", 4)
        receiver.release()  # the delivery in flight completes against PostgreSQL
        wait_until(lambda: len(receiver.accepted) >= 4, 30, "the delivery in flight")
        assert outbox_state(app) == (11, 4)
        # rq gives up on a Redis failure while a job runs; `wangge worker` must not
        wait_until(lambda: "waiting for Redis" in (tmp_path / "worker.log").read_text(), 30,
                   "the worker to notice the outage")
        assert worker.poll() is None, "wangge worker exited:\n" + (tmp_path / "worker.log").read_text()

        # 4. Redis back, empty, on the same port: every notification arrives, once.
        private_redis.start()
        wait_until(lambda: outbox_state(app) == (11, 11), 60, "every outbox row delivered after Redis returned")
        assert worker.poll() is None
        assert sorted(receiver.accepted) == sorted(expected)
        assert max(Counter(receiver.accepted).values()) == 1
        with app.app_context():
            receipts = db.session.execute(select(Delivery.outbox_id, Delivery.channel, Delivery.recipient)).all()
            assert len(receipts) == len(set(receipts)) == 11
            db.session.remove()
    finally:
        stop_process(worker)
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
        if worker.returncode not in (None, 0, -15):
            sys.stderr.write((tmp_path / "worker.log").read_text())


def test_relay_after_redis_came_back_empty_requeues_every_lost_job_at_once(fresh_pg_url, private_redis):
    """More lost jobs than one batch: one relay re-enqueues them all, none twice, without
    waiting for the 5-minute staleness check; the next relay finds them alive."""
    from redis import Redis
    from rq import Queue

    from dispatch.notifications.outbox import relay_pending
    from wangge import create_app
    from wangge.extensions import db

    queue_name = f"o{uuid.uuid4().hex[:8]}"
    app = create_app(make_settings(fresh_pg_url, redis_url=private_redis.url, queue_name=queue_name,
                                   relay_interval_seconds=0))  # requests relay after their commit
    try:
        write_notifications(app, "lost", 5)
        q = Queue(queue_name, connection=Redis.from_url(private_redis.url))
        assert q.count == 5
        private_redis.kill()
        private_redis.start()  # empty: the five jobs are gone, the rows still say "enqueued"
        assert q.count == 0
        with app.app_context():
            assert relay_pending(db.session, limit=2) == {"redis": "up", "enqueued": 0, "requeued": 5, "alive": 0}
            assert sorted(q.job_ids) == sorted(set(q.job_ids)) and q.count == 5
            assert relay_pending(db.session, limit=2)["requeued"] == 0
            db.session.remove()
        assert q.count == 5
    finally:
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
