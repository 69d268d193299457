"""Citizens' uploads no report used are purged after their token expired (plus the margin):
rows and stored files (thumbnails too), unless another photo shares the stored file; by the
worker's periodic tick (one bounded batch) and by ``wangge photos purge``."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatch.attachments.models import Attachment
from dispatch.attachments.service import purge_tick, purge_unused_uploads
from tests.dispatch.fixtures_photos import (  # noqa: F401 - media_fixture is the fixture "media"
    media_fixture,
    photo,
    public_upload,
    upload,
)
from tests.dispatch.test_photo_kinds_citizen import citizen_report
from wangge.hooks import hooks
from wangge.timeutil import utcnow


@pytest.fixture(autouse=True)
def fresh_limits(redis_conn):
    return redis_conn


def citizen_upload(client, db_session, color) -> tuple[Attachment, str]:
    r = public_upload(client, photo(color=color))
    assert r.status_code == 201, r.json
    row = db_session.scalars(select(Attachment).order_by(Attachment.id.desc())).first()
    return row, r.json["upload_token"]


def expire(db_session, *rows, minutes_ago: int) -> None:
    for row in rows:
        row.upload_expires_at = utcnow() - timedelta(minutes=minutes_ago)
    db_session.commit()


def files_of(media, row) -> list:
    return [media / row.path, *([media / row.thumbnail_path] if row.thumbnail_path else [])]


def test_expired_unused_uploads_are_purged_others_stay(client, city, media, db_session, app):
    assert purge_tick in hooks(app).periodic
    margin = app.config["WANGGE"].public_photo_purge_margin_minutes
    unused, _ = citizen_upload(client, db_session, (200, 10, 10))
    twin_a, _ = citizen_upload(client, db_session, (10, 10, 200))     # two unused uploads of the same bytes
    twin_b, _ = citizen_upload(client, db_session, (10, 10, 200))
    used, used_token = citizen_upload(client, db_session, (10, 200, 10))
    assert citizen_report(client, [used_token]).status_code == 201
    fresh, _ = citizen_upload(client, db_session, (200, 200, 10))     # expired, but within the margin
    shared, _ = citizen_upload(client, db_session, (90, 90, 90))
    staff = upload(client, city.h("worker1"), photo(color=(90, 90, 90)))  # a staff photo, same stored bytes
    assert staff.status_code == 201, staff.json
    db_session.refresh(used)
    assert used.case_id is not None and shared.sha256 == db_session.get(Attachment, staff.json["id"]).sha256
    assert twin_a.sha256 == twin_b.sha256 and unused.thumbnail_path  # thumbnails made (jobs inline)
    expire(db_session, unused, twin_a, twin_b, used, shared, minutes_ago=margin + 5)
    expire(db_session, fresh, minutes_ago=margin - 5)
    gone_files = files_of(media, unused) + files_of(media, twin_a)
    kept = {r.id: files_of(media, r) for r in (used, fresh)}
    shared_files = files_of(media, shared)
    assert all(p.exists() for p in gone_files + shared_files)
    ids = {r.id for r in (unused, twin_a, twin_b, shared)}
    unused_sha = unused.sha256

    # the shared upload's row goes too, its file stays: the staff photo still has it
    assert purge_tick(db_session) == {"rows": 4, "files": 2}
    db_session.expire_all()
    assert db_session.scalars(select(Attachment.id).where(Attachment.id.in_(ids))).all() == []
    assert not any(p.exists() for p in gone_files)
    assert not [p for p in media.rglob("*") if p.name.startswith(".purge-")]
    for row_id, paths in kept.items():
        assert db_session.get(Attachment, row_id) is not None and all(p.exists() for p in paths), row_id
    assert db_session.get(Attachment, staff.json["id"]) is not None and all(p.exists() for p in shared_files)
    assert client.get(f"/api/v1/attachments/{staff.json['id']}", headers=city.h("worker1")).status_code == 200
    # nothing left: a second run does nothing; the same bytes uploaded again are stored again
    assert purge_unused_uploads(db_session) == {"rows": 0, "files": 0}
    again, _ = citizen_upload(client, db_session, (200, 10, 10))
    assert (media / again.path).exists() and again.sha256 == unused_sha


def test_cli_purges_in_batches_with_progress(client, city, media, db_session, app):
    margin = app.config["WANGGE"].public_photo_purge_margin_minutes
    rows = [citizen_upload(client, db_session, (i * 40, 0, 0))[0] for i in range(1, 4)]
    expire(db_session, *rows, minutes_ago=margin + 1)
    paths = [media / r.path for r in rows]
    result = app.test_cli_runner().invoke(args=["photos", "purge", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "unused uploads deleted: 3, stored files removed: 3" in result.output
    assert not any(p.exists() for p in paths)
    assert app.test_cli_runner().invoke(args=["photos", "purge", "--batch", "0"]).exit_code == 2


def test_purge_on_sqlite(tmp_path, monkeypatch):
    """The same on SQLite (no advisory locks, no SKIP LOCKED)."""
    from tests.conftest import make_settings
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(f"sqlite:///{tmp_path}/w.db", media_dir=str(tmp_path / "media"),
                                   jobs_inline=True))
    with app.app_context():
        db.create_all()
        from dispatch.attachments.service import store_citizen

        old, _ = store_citizen(db.session, photo(color=(1, 2, 3)), "a.jpg")
        keep, _ = store_citizen(db.session, photo(color=(3, 2, 1)), "b.jpg")
        old.upload_expires_at = utcnow() - timedelta(days=3)
        db.session.commit()
        path = tmp_path / "media" / old.path
        assert path.exists()
        assert purge_unused_uploads(db.session) == {"rows": 1, "files": 1}
        assert not path.exists() and (tmp_path / "media" / keep.path).exists()
        assert db.session.scalars(select(Attachment.id)).all() == [keep.id]
