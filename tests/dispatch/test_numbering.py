"""Case numbers from per-(area, year) database sequences on PostgreSQL (no lock held until
commit), the row counter on SQLite, and tracking codes left to the unique index."""
from __future__ import annotations

import threading
from datetime import datetime

import flask_migrate
import pytest
from sqlalchemy import event, func, select, text

from dispatch.cases.models import Case, CaseSequence
from dispatch.intake import numbering
from dispatch.intake.numbering import next_number, sequence_name
from dispatch.intake.rules import Submission
from dispatch.intake.service import submit
from grid import roles as R
from grid.accounts.service import issue_token
from tests.committed import own_app
from tests.dispatch.conftest import report
from tests.factories import CaseFactory, StaffFactory

AREA = "310101"
BODY = {"description": "井盖缺失", "category_code": "C0101", "address": "测试路1号"}


def _year(app) -> int:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(app.config["WANGGE"].timezone)).year


def _clerks(app, n=2) -> list[dict]:
    from wangge.extensions import db

    with app.app_context():
        out = []
        for _ in range(n):
            staff = StaffFactory(roles=[R.INTAKE_CLERK])
            out.append({"Authorization": f"Bearer {issue_token(db.session, staff, ttl_hours=2)[0]}"})
        db.session.commit()
        db.session.remove()
        return out


def _suffix(number: str, year: int) -> int:
    assert number.startswith(f"{AREA}{year}"), number
    return int(number[len(AREA) + 4:])


# --- the name is injection-proof -----------------------------------------------------------

@pytest.mark.parametrize("area, year", [("31a101", 2026), ("310101; DROP TABLE cases", 2026), ("", 2026),
                                        ("1" * 13, 2026), ("٣١٠١٠١", 2026), ("310101", 0), ("310101", 10000),
                                        ("310101", "2026"), ("310101", True), (310101, 2026)])
def test_a_sequence_name_is_digits_only(area, year):
    with pytest.raises(ValueError):
        sequence_name(area, year)


def test_sequence_names():
    assert sequence_name("310101", 2026) == "case_seq_310101_2026"
    assert sequence_name("000000", 1) == "case_seq_000000_1"


# --- PostgreSQL: committed races --------------------------------------------------------------

ROUNDS = 12


def test_two_threads_racing_intakes_get_unique_increasing_numbers(fresh_pg_url):
    with own_app(fresh_pg_url, area_code=AREA) as app:
        headers = _clerks(app)
        year = _year(app)
        barrier = threading.Barrier(2)
        numbers: list[list[str]] = [[], []]
        errors: list = []

        def run(i):
            client = app.test_client()
            barrier.wait()  # both make the (area, year) sequence's first use at once
            for _ in range(ROUNDS):
                r = client.post("/api/v1/cases", json=BODY, headers=headers[i])
                if r.status_code != 201:
                    errors.append(r.json)
                    return
                numbers[i].append(r.json["number"])

        threads = [threading.Thread(target=run, args=(i,), name=f"numbering-{i}") for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors and all(len(n) == ROUNDS for n in numbers), (errors, numbers)
        everything = numbers[0] + numbers[1]
        assert len(set(everything)) == 2 * ROUNDS
        for mine in numbers:  # each client sees its numbers grow
            assert [_suffix(n, year) for n in mine] == sorted(_suffix(n, year) for n in mine)
        # nothing rolled back here: no gap either
        assert sorted(_suffix(n, year) for n in everything) == list(range(1, 2 * ROUNDS + 1))
        from wangge.extensions import db

        with app.app_context():  # the old row lock is not used on PostgreSQL any more
            assert db.session.scalar(select(func.count()).select_from(CaseSequence)) == 0
            db.session.remove()


def test_a_second_intake_does_not_wait_for_the_first_to_commit(fresh_pg_url):
    """A has taken its number (and inserted its case) and stays open; B completes meanwhile.
    With the old ``UPDATE case_sequences ... RETURNING`` B waited on A's row lock."""
    from wangge.extensions import db

    with own_app(fresh_pg_url, area_code=AREA) as app:
        [headers] = _clerks(app, 1)
        year = _year(app)
        answer: list = []

        def intake_b():
            r = app.test_client().post("/api/v1/cases", json=BODY, headers=headers)
            answer.append((r.status_code, r.json))

        with app.app_context():
            case_a, created = submit(db.session, Submission(channel="web", description="A 的报告",
                                                            category_code="C0101", address="测试路2号"))
            assert created and _suffix(case_a.number, year) == 1
            b = threading.Thread(target=intake_b, name="numbering-b")
            b.start()
            b.join(30)  # would block until A ends with the row lock
            finished = not b.is_alive()
            db.session.rollback()  # A gives up: its number is a gap
            b.join(60)
            db.session.remove()
        assert finished, "intake B waited for transaction A"
        status, body = answer[0]
        assert status == 201 and _suffix(body["number"], year) == 2, body
        r = app.test_client().post("/api/v1/cases", json=BODY, headers=headers)
        assert r.status_code == 201 and _suffix(r.json["number"], year) == 3  # 1 stays a gap


def test_first_use_starts_after_the_numbers_already_used(fresh_pg_url):
    """An (area, year) without a sequence yet: it starts after the old counter row and after
    any committed case's number, whichever is higher."""
    from wangge.extensions import db

    with own_app(fresh_pg_url, area_code=AREA) as app, app.app_context():
        db.session.add(CaseSequence(area="310109", year=2031, last=500))
        CaseFactory(number="3101092032000777")  # a number that came from elsewhere, no counter row
        CaseFactory(number="3101092032X")  # not a number of this scheme: ignored
        db.session.commit()
        assert next_number(db.session, "310109", 2031) == "3101092031000501"
        assert next_number(db.session, "310109", 2031) == "3101092031000502"
        assert next_number(db.session, "310109", 2032) == "3101092032000778"
        assert next_number(db.session, "310109", 2033) == "3101092033000001"
        db.session.rollback()
        assert next_number(db.session, "310109", 2031) == "3101092031000503"  # not transactional
        # the counter rows are left as they were
        assert db.session.get(CaseSequence, ("310109", 2031)).last == 500
        db.session.remove()


def test_numbering_goes_on_after_the_migration(fresh_pg_url):
    """0014 makes one sequence per case_sequences row; its downgrade writes the sequences'
    last values back into the rows."""
    from wangge.extensions import db

    with own_app(fresh_pg_url, area_code=AREA) as app:
        [headers] = _clerks(app, 1)
        year = _year(app)
        with app.app_context():
            flask_migrate.downgrade(revision="0013")
            db.session.execute(text("INSERT INTO case_sequences (area, year, last) VALUES "
                                    "(:area, :year, 41), ('320102', 2025, 7), ('X1', 2025, 3)"),
                               {"area": AREA, "year": year})
            db.session.commit()
            db.session.remove()
            flask_migrate.upgrade()
            names = set(db.session.scalars(text("SELECT relname FROM pg_class WHERE relkind = 'S' "
                                                "AND relname LIKE 'case_seq_%'")))
            assert names == {f"case_seq_{AREA}_{year}", "case_seq_320102_2025"}
            assert next_number(db.session, "320102", 2025) == "3201022025000008"
            db.session.commit()
            db.session.remove()
        r = app.test_client().post("/api/v1/cases", json=BODY, headers=headers)
        assert r.status_code == 201 and r.json["number"] == f"{AREA}{year}000042"

        with app.app_context():
            flask_migrate.downgrade(revision="0013")  # back to the row lock: it goes on after 42
            assert db.session.get(CaseSequence, (AREA, year)).last == 42
            assert db.session.get(CaseSequence, ("320102", 2025)).last == 8
            assert not db.session.scalar(text("SELECT count(*) FROM pg_class WHERE relkind = 'S' AND relname LIKE 'case_seq_%'"))
            db.session.remove()
            flask_migrate.upgrade()
            assert next_number(db.session, AREA, year) == f"{AREA}{year}000043"
            db.session.commit()
            db.session.remove()


# --- tracking codes: the unique index decides --------------------------------------------------

def test_a_taken_tracking_code_is_replaced_not_an_error(client, city, db_session, monkeypatch):
    taken = report(client, city)["tracking_code"]
    codes = iter([taken, taken])
    real = numbering.tracking_code
    monkeypatch.setattr("dispatch.intake.service.tracking_code", lambda *a: next(codes, None) or real())
    body = report(client, city)
    assert body["tracking_code"] not in (taken, None) and len(body["tracking_code"]) == 10
    assert db_session.scalar(select(func.count()).select_from(Case).where(Case.tracking_code == taken)) == 1


def test_only_taken_codes_give_a_conflict_never_a_500(client, city, monkeypatch):
    taken = report(client, city)["tracking_code"]
    monkeypatch.setattr("dispatch.intake.service.tracking_code", lambda *a: taken)
    r = client.post("/api/v1/cases", json={"description": "路边有暴露垃圾", "category_code": "E0102", "address": "测试路3号"},
                    headers=city.h("worker1"))
    assert r.status_code == 409 and r.json["code"] == "conflict", r.json


def test_one_intake_reads_no_tracking_code_and_locks_no_counter(client, city, db_session):
    engine = db_session.connection().engine
    seen: list[str] = []

    def capture(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        report(client, city)  # the (area, year) sequence may be made here, on another connection
        seen.clear()
        report(client, city)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert not [s for s in seen if "tracking_code =" in s or "tracking_code IN" in s], seen
    assert not [s for s in seen if "case_sequences" in s], seen
    assert len([s for s in seen if "nextval" in s]) == 1
    # measured here: 23 with the row lock and the tracking code query, 22 now (nextval takes
    # the UPDATE's place, the tracking code query is gone)
    assert len(seen) <= 22, "\n".join(seen)


# --- SQLite: the counter row, as before -----------------------------------------------------------

def test_sqlite_counts_in_the_row(tmp_path):
    from tests.conftest import make_settings
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(f"sqlite:///{tmp_path / 'n.db'}", data_dir=str(tmp_path)))
    with app.app_context():
        flask_migrate.upgrade()
        assert [next_number(db.session, AREA, 2026) for _ in range(3)] == [
            "3101012026000001", "3101012026000002", "3101012026000003"]
        db.session.commit()
        assert db.session.get(CaseSequence, (AREA, 2026)).last == 3
        assert numbering.tracking_code() != numbering.tracking_code()
        db.session.remove()
        db.engine.dispose()
