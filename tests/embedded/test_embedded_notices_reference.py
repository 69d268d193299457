"""On the embedded SQLite file: personal notices are selected from ``staff`` (a recipient who
is not staff gets none, two outbox rows in one statement each get theirs), and migration
0018's triggers move the reference version when a time limit or a calendar day changes."""
from sqlalchemy import func, select, text

from dispatch.notifications.models import PersonalNotice
from grid.models import LayerVersion, Staff
from tests.embedded.test_embedded_smoke import embedded_env, wangge


def test_notices_and_reference_triggers_on_sqlite(tmp_path):
    from dispatch.notifications.personal import write_notices
    from wangge import create_app
    from wangge.config import Settings
    from wangge.extensions import db

    wangge(embedded_env(tmp_path / "var"), "init")
    app = create_app(Settings(data_dir=str(tmp_path / "var"), index_check_seconds=0, load_demo=False))
    with app.app_context():
        db.session.add(Staff(username="jia", name="甲", phone="13900000001", password_hash="x"))
        db.session.flush()
        staff_id = db.session.scalar(select(Staff.id).where(Staff.username == "jia"))
        ghost = staff_id + 1000
        rows = [(1, "case_event", {"text_zh": "一", "recipients": [{"kind": "staff", "id": staff_id},
                                                                   {"kind": "staff", "id": ghost}]}),
                (2, "case_event", {"text_en": "two", "case": "C-1", "recipients": [{"kind": "staff", "id": staff_id}]})]
        assert write_notices(db.session, rows) == 2
        assert write_notices(db.session, rows) == 0  # idempotent
        notices = db.session.execute(select(PersonalNotice.staff_id, PersonalNotice.outbox_id, PersonalNotice.text_zh,
                                            PersonalNotice.text_en, PersonalNotice.case_number)
                                     .order_by(PersonalNotice.outbox_id)).all()
        assert [tuple(n) for n in notices] == [(staff_id, 1, "一", "一", None), (staff_id, 2, "two", "two", "C-1")]
        assert db.session.scalar(select(func.count(func.distinct(PersonalNotice.change_seq)))) >= 1
        db.session.commit()

        def reference_version():
            return db.session.scalar(select(LayerVersion.version).where(LayerVersion.name == "reference"))

        for statement in ("INSERT INTO time_limits (category_code, stage, amount, unit) "
                          "VALUES ('ZZ9', 'enf_close', 3, 'work_days')",
                          "UPDATE time_limits SET amount = 4 WHERE category_code = 'ZZ9'",
                          "INSERT INTO calendar_days (day, is_workday, name, created_at) "
                          "VALUES ('2031-01-02', 0, '测试', '2026-01-01 00:00:00')",
                          "DELETE FROM calendar_days"):
            before = reference_version()
            db.session.execute(text(statement))
            assert reference_version() != before, statement
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
