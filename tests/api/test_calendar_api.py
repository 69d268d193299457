"""Work calendar over HTTP: official holidays and make-up days, provisional years, local
overrides, loading a new year's schedule, and deadlines shown in local time."""
import io
import json
from datetime import date, timedelta

import chinese_calendar
import pytest
from sqlalchemy import func, select

from grid.models import CalendarDay


@pytest.fixture
def staff(login):
    return login("department_handler")


def days(client, headers, start, end):
    r = client.get(f"/api/v1/calendar?from={start}&to={end}", headers=headers)
    assert r.status_code == 200, r.json
    return {d["day"]: d for d in r.json}


def override_rows(session):
    session.expire_all()
    return sorted((r.day, r.is_workday, r.name) for r in session.scalars(select(CalendarDay)))


def test_national_day_2026_from_the_official_schedule(client, staff):
    got = days(client, staff, "2026-09-25", "2026-10-12")
    assert list(got) == [(date(2026, 9, 25) + timedelta(n)).isoformat() for n in range(18)]
    # what the library (the State Council's schedule) says, checked before asserting the API
    holidays = [date(2026, 10, d) for d in range(1, 8)]
    makeup = date(2026, 10, 10)  # a Saturday worked to make up for National Day
    assert all(chinese_calendar.is_holiday(d) for d in holidays)
    assert makeup.weekday() == 5 and chinese_calendar.is_workday(makeup)
    assert chinese_calendar.get_holiday_detail(makeup) == (False, "National Day")

    for d in holidays:
        entry = got[d.isoformat()]
        assert entry["is_workday"] is False and entry["source"] == "official"
        assert entry["name"] == "National Day"
    entry = got["2026-10-10"]
    assert entry == {"day": "2026-10-10", "is_workday": True, "source": "official", "name": "National Day"}
    assert got["2026-10-11"]["is_workday"] is False   # an ordinary Sunday
    for d in ("2026-09-28", "2026-09-29", "2026-09-30", "2026-10-08", "2026-10-09", "2026-10-12"):
        assert got[d]["is_workday"] is True, d
    # Mid-autumn 2026 falls on Friday 25 September
    assert got["2026-09-25"]["is_workday"] is False and got["2026-09-25"]["name"] == "Mid-autumn Festival"
    assert {e["source"] for e in got.values()} == {"official"}


def test_next_year_is_provisional(client, staff):
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_holiday(date(2027, 1, 4))
    got = days(client, staff, "2026-12-31", "2027-01-04")
    assert got["2026-12-31"]["source"] == "official"
    assert got["2027-01-01"] == {"day": "2027-01-01", "is_workday": False, "source": "provisional",
                                 "name": "New Year's Day"}
    assert got["2027-01-02"]["is_workday"] is False  # Saturday
    assert got["2027-01-04"] == {"day": "2027-01-04", "is_workday": True, "source": "provisional", "name": None}


@pytest.mark.parametrize("query, field", [
    ("from=2026-10-12&to=2026-10-01", "to"),
    ("from=2026-01-01&to=2027-06-01", "to"),
    ("to=2026-10-01", "from"),
    ("from=2026-13-01&to=2026-12-31", "from"),
])
def test_bad_range_is_422(client, staff, query, field):
    r = client.get(f"/api/v1/calendar?{query}", headers=staff)
    assert r.status_code == 422 and field in r.json["fields"]


def test_override_a_day_and_remove_it(client, admin, staff, db_session):
    r = client.put("/api/v1/calendar/days/2026-10-12", headers=admin,
                   json={"is_workday": False, "name": "本地防台风停工"})
    assert r.status_code == 200, r.json
    assert r.json == {"day": "2026-10-12", "is_workday": False, "name": "本地防台风停工"}
    got = days(client, staff, "2026-10-10", "2026-10-12")
    assert got["2026-10-12"] == {"day": "2026-10-12", "is_workday": False, "source": "override",
                                 "name": "本地防台风停工"}
    assert got["2026-10-10"]["source"] == "official"

    # an override wins over the official schedule in the other direction too
    client.put("/api/v1/calendar/days/2026-10-11", headers=admin, json={"is_workday": True})
    assert days(client, staff, "2026-10-11", "2026-10-11")["2026-10-11"]["is_workday"] is True
    assert len(override_rows(db_session)) == 2

    assert client.delete("/api/v1/calendar/days/2026-10-12", headers=admin).status_code == 200
    assert days(client, staff, "2026-10-12", "2026-10-12")["2026-10-12"] == {
        "day": "2026-10-12", "is_workday": True, "source": "official", "name": None}
    r = client.delete("/api/v1/calendar/days/2026-10-12", headers=admin)
    assert r.status_code == 404 and r.json["code"] == "not_found"


def test_override_refusals_change_nothing(client, admin, staff, db_session):
    client.put("/api/v1/calendar/days/2026-10-12", headers=admin, json={"is_workday": False})
    before = override_rows(db_session)
    r = client.put("/api/v1/calendar/days/2026-13-45", headers=admin, json={"is_workday": False})
    assert r.status_code == 422 and "day" in r.json["fields"]
    r = client.put("/api/v1/calendar/days/2026-10-13", headers=admin, json={"name": "x"})
    assert r.status_code == 422 and "is_workday" in r.json["fields"]
    r = client.put("/api/v1/calendar/days/2026-10-13", headers=admin, json={"is_workday": "maybe"})
    assert r.status_code == 422 and "is_workday" in r.json["fields"]
    r = client.put("/api/v1/calendar/days/2026-10-13", headers=staff, json={"is_workday": False})
    assert r.status_code == 403 and r.json["code"] == "forbidden_role"
    r = client.delete("/api/v1/calendar/days/2026-10-12", headers=staff)
    assert r.status_code == 403
    r = client.delete("/api/v1/calendar/days/not-a-day", headers=admin)
    assert r.status_code == 422
    assert override_rows(db_session) == before


SCHEDULE_2027 = """date,kind,name
2027-02-05,holiday,春节
2027-02-08,holiday,春节
2027-02-09,holiday,春节
2027-02-10,holiday,春节
2027-02-11,holiday,春节
2027-02-14,workday,春节调休
"""


def test_load_next_years_schedule(client, admin, staff, db_session):
    before = days(client, staff, "2027-02-05", "2027-02-15")
    assert before["2027-02-08"]["is_workday"] is True and before["2027-02-08"]["source"] == "provisional"
    assert before["2027-02-14"]["is_workday"] is False  # a Sunday, provisionally

    r = client.post("/api/v1/calendar/schedule", headers=admin, data=SCHEDULE_2027.encode("utf-8-sig"),
                    content_type="text/csv")
    assert r.status_code == 200, r.json
    assert r.json == {"loaded": 6}
    got = days(client, staff, "2027-02-05", "2027-02-15")
    for d in ("2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11"):
        assert got[d]["is_workday"] is False and got[d]["source"] == "override" and got[d]["name"] == "春节"
    assert got["2027-02-14"] == {"day": "2027-02-14", "is_workday": True, "source": "override",
                                 "name": "春节调休"}
    assert got["2027-02-12"]["source"] == "provisional" and got["2027-02-12"]["is_workday"] is True
    assert len(override_rows(db_session)) == 6

    # the loaded days count for deadlines: Thursday 4 Feb 17:00 + 2 working hours
    # -> one hour on the 4th, nothing until the 12th
    r = client.post("/api/v1/calendar/deadline", headers=staff,
                    json={"start": "2027-02-04T17:00:00+08:00", "amount": 2, "unit": "work_hours"})
    assert r.json["due"] == "2027-02-12T09:00:00+08:00"


def test_load_schedule_as_json_file_upload(client, admin, staff):
    doc = [{"date": "2027-10-04", "kind": "holiday", "name": "国庆节"},
           {"date": "2027-10-09", "kind": "workday", "name": "国庆节调休"}]
    r = client.post("/api/v1/calendar/schedule", headers=admin, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(json.dumps(doc, ensure_ascii=False).encode()), "2027.json")})
    assert r.status_code == 200, r.json
    assert r.json == {"loaded": 2}
    got = days(client, staff, "2027-10-04", "2027-10-09")
    assert got["2027-10-04"]["is_workday"] is False and got["2027-10-09"]["is_workday"] is True


@pytest.mark.parametrize("body, status", [
    ("date,kind,name\n2027-02-05,holiday,春节\n2027-02-30,holiday,春节\n", 422),   # no such date
    ("date,kind,name\n2027-02-05,holiday,春节\n2027/02/06,holiday,春节\n", 422),   # wrong format
    ("date,kind,name\n2027-02-05,holiday,春节\n2027-02-06,vacation,春节\n", 422),  # unknown kind
    ("date,kind,name\n", 422),                                                       # no rows
    ("day,type\n2027-02-05,holiday\n", 422),                                         # wrong columns
    ('[{"date": "2027-02-05", "kind": "holiday"}, {"date": "2027-02-06"}]', 422),
    ('[{"date": "2027-02-05", "kind": "holiday"}, "2027-02-06"]', 422),              # not an object
    ('[{"date": "2027-02-05", "kind": "holiday"', 400),                              # broken JSON
])
def test_bad_schedule_loads_nothing(client, admin, db_session, body, status):
    r = client.post("/api/v1/calendar/schedule", headers=admin, data=body.encode(), content_type="text/csv")
    assert r.status_code == status, r.json
    assert r.json["code"] in ("validation_error", "invalid_file")
    assert r.json["message"]
    assert db_session.scalar(select(func.count()).select_from(CalendarDay)) == 0


def test_schedule_errors_name_the_row(client, admin, db_session):
    body = "date,kind,name\n2027-02-05,holiday,春节\n2027-02-30,holiday,春节\n2027-02-06,rest,春节\n"
    r = client.post("/api/v1/calendar/schedule?lang=en", headers=admin, data=body.encode(),
                    content_type="text/csv")
    assert r.status_code == 422
    assert set(r.json["fields"]) == {"row 2", "row 3"}
    assert "2027-02-30" in r.json["fields"]["row 2"][0]
    assert "rest" in r.json["fields"]["row 3"][0]


def test_schedule_needs_admin_and_utf8(client, admin, staff, db_session):
    r = client.post("/api/v1/calendar/schedule", headers=staff, data=SCHEDULE_2027.encode(),
                    content_type="text/csv")
    assert r.status_code == 403
    r = client.post("/api/v1/calendar/schedule", headers=admin, data=SCHEDULE_2027.encode("gbk"),
                    content_type="text/csv")
    assert r.status_code == 400 and r.json["code"] == "invalid_file"
    assert db_session.scalar(select(func.count()).select_from(CalendarDay)) == 0


# --- deadlines --------------------------------------------------------------------------------


@pytest.mark.parametrize("start, amount, unit, due", [
    # Wednesday 30 Sep 17:00: one working hour left, then the holiday until Thursday 8 Oct
    ("2026-09-30T17:00:00+08:00", 2, "work_hours", "2026-10-08T09:00:00+08:00"),
    # one work day = 8 working hours: 6 on the 30th, 2 on the 8th
    ("2026-09-30T10:00:00+08:00", 1, "work_days", "2026-10-08T10:00:00+08:00"),
    # Friday 9 Oct 17:00 + 2 h: Saturday 10 Oct is a make-up working day
    ("2026-10-09T17:00:00+08:00", 2, "work_hours", "2026-10-10T09:00:00+08:00"),
    # urgent hours and calendar days run through the holiday
    ("2026-09-30T17:00:00+08:00", 2, "urgent_hours", "2026-09-30T19:00:00+08:00"),
    ("2026-09-30T17:00:00+08:00", 3, "calendar_days", "2026-10-03T17:00:00+08:00"),
    # a UTC start is shown in local time: 09:00Z on the 30th is 17:00 in Shanghai
    ("2026-09-30T09:00:00Z", 2, "work_hours", "2026-10-08T09:00:00+08:00"),
])
def test_deadline_across_the_holiday(client, staff, start, amount, unit, due):
    r = client.post("/api/v1/calendar/deadline", headers=staff,
                    json={"start": start, "amount": amount, "unit": unit})
    assert r.status_code == 200, r.json
    assert r.json["due"] == due
    local_hour = int(due[11:13])
    utc_hour = int(r.json["due_utc"][11:13])
    assert (local_hour - utc_hour) % 24 == 8 and r.json["due_utc"].endswith("+00:00")


def test_deadline_in_the_staff_members_zone(client, login, db_session):
    headers = login("dispatcher", timezone="Asia/Urumqi")
    db_session.commit()
    r = client.post("/api/v1/calendar/deadline", headers=headers,
                    json={"start": "2026-09-30T17:00:00+08:00", "amount": 2, "unit": "work_hours"})
    assert r.json["due"] == "2026-10-08T07:00:00+06:00"  # same instant, shown in the user's zone


@pytest.mark.parametrize("body, field", [
    ({"start": "2026-09-30T17:00:00", "amount": 2, "unit": "work_hours"}, "start"),   # no offset
    ({"start": "yesterday", "amount": 2, "unit": "work_hours"}, "start"),
    ({"start": "2026-09-30T17:00:00+08:00", "amount": -1, "unit": "work_hours"}, "amount"),
    ({"start": "2026-09-30T17:00:00+08:00", "amount": 2, "unit": "weeks"}, "unit"),
    ({"amount": 2, "unit": "work_hours"}, "start"),
])
def test_deadline_validation(client, staff, body, field):
    r = client.post("/api/v1/calendar/deadline", headers=staff, json=body)
    assert r.status_code == 422, r.json
    assert field in r.json["fields"]
