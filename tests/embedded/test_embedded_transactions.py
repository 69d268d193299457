"""On the embedded SQLite file a failed request changes nothing, even when it opened a
savepoint first (pysqlite's deferred BEGIN used to turn that savepoint's RELEASE into a commit)."""
from sqlalchemy import func, select

from grid.models import Department
from tests.embedded.test_embedded_smoke import embedded_env, wangge


def test_rolling_back_after_a_released_savepoint_keeps_nothing(tmp_path):
    from wangge import create_app
    from wangge.config import Settings
    from wangge.extensions import db

    wangge(embedded_env(tmp_path / "var"), "init")
    app = create_app(Settings(data_dir=str(tmp_path / "var"), index_check_seconds=0, load_demo=False))
    with app.app_context():
        with db.session.begin_nested():  # the first statement of the transaction, as in intake
            db.session.add(Department(code="SP1", name="保存点", kind="functional"))
        db.session.rollback()  # what the edge does when the request fails later
        assert db.session.scalar(select(func.count()).select_from(Department).where(Department.code == "SP1")) == 0

        with db.session.begin_nested():
            db.session.add(Department(code="SP2", name="保存点", kind="functional"))
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Department).where(Department.code == "SP2")) == 1
        db.session.remove()
        db.engine.dispose()
