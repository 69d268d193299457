"""12345 hotline orders: CSV (UTF-8, BOM, GBK) and XLSX import through the CLI (a subprocess
on a committed PostGIS database) and through HTTP; all-or-nothing validation; idempotency."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import create_engine, text

from dispatch.adapters.hotline.service import parse_time
from dispatch.cases.models import Case, CaseEvent
from geo.crs import convert_point
from tests.dispatch.conftest import POINT_G1, POINT_G2

HEADER = ["order_no", "received_at", "caller_name", "phone", "content", "address", "lon", "lat", "crs",
          "category_code", "type"]
GCJ_G2 = convert_point(*POINT_G2, "wgs84", "gcj02")

GOOD = [
    ["12345-0001", "2025-03-01 08:30", "张三", "13800000001", "小区门口垃圾堆积", "测试路 1 号", "", "", "",
     "E0102", "投诉"],
    ["12345-0002", "2025-03-01T09:00:00+00:00", "李四", "13800000002", "井盖破损", "",
     str(POINT_G1[0]), str(POINT_G1[1]), "wgs84", "C0101", ""],
    ["12345-0003", "2025/3/2 7:05", "", "", "路灯不亮", "测试路 9 号", f"{GCJ_G2[0]:.8f}", f"{GCJ_G2[1]:.8f}",
     "gcj02", "", "求助"],
]


def csv_bytes(rows, header=HEADER, encoding="utf-8-sig"):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows, header):
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.create_sheet("其他")["A1"] = "not read"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def hotline_cases(url):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT external_id, idempotency_key, channel, reporter_name, reporter_phone, description, "
                "reported_at, lon, lat, original_lon, original_crs, category_code, state "
                "FROM cases ORDER BY external_id")).mappings().all()
    finally:
        engine.dispose()


# --- CLI ---------------------------------------------------------------------------------

def test_cli_csv_import_then_reimport_creates_nothing(fresh_pg_url, run_cli, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes(csv_bytes(GOOD))
    out = run_cli(fresh_pg_url, "hotline", "import", str(path))
    assert "created 3, already imported 0, skipped 0" in out.stdout
    assert "importing" in out.stderr  # the progress bar
    rows = hotline_cases(fresh_pg_url)
    assert [r["external_id"] for r in rows] == ["12345-0001", "12345-0002", "12345-0003"]
    first, second, third = rows
    assert {r["channel"] for r in rows} == {"hotline"} and {r["state"] for r in rows} == {"reported"}
    assert first["idempotency_key"] == "hotline:12345-0001"
    assert first["reporter_name"] == "张三" and first["reporter_phone"] == "13800000001"
    assert first["description"] == "【投诉】小区门口垃圾堆积" and first["category_code"] == "E0102"
    # naive times are local (Asia/Shanghai); zoned times keep their zone
    assert first["reported_at"] == datetime(2025, 3, 1, 0, 30, tzinfo=UTC)
    assert second["reported_at"] == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert third["reported_at"] == datetime(2025, 3, 1, 23, 5, tzinfo=UTC)
    # GCJ-02 points are converted to WGS-84, the original kept
    assert third["original_crs"] == "gcj02"
    assert third["lon"] == pytest.approx(POINT_G2[0], abs=1e-6) and third["lat"] == pytest.approx(POINT_G2[1], abs=1e-6)
    assert second["original_crs"] == "wgs84" and second["lon"] == pytest.approx(POINT_G1[0])

    again = run_cli(fresh_pg_url, "hotline", "import", str(path))
    assert "created 0, already imported 3, skipped 0" in again.stdout
    assert len(hotline_cases(fresh_pg_url)) == 3


def test_cli_xlsx_with_chinese_headers_and_excel_types(fresh_pg_url, run_cli, tmp_path):
    header = ["工单编号", "受理时间", "来电人", "来电号码", "诉求内容", "事发地址", "经度", "纬度", "坐标系",
              "诉求类型", "承办单位"]
    rows = [
        [20250301001, datetime(2025, 3, 1, 8, 30), "王五", 13900000009, "噪音扰民", "测试路 3 号", None, None, None,
         "投诉", "某街道"],
        ["20250301002", "2025-03-01 10:00:00", None, None, "占道经营", None, GCJ_G2[0], GCJ_G2[1], "gcj02",
         None, None],
        [None, None, None, None, None, None, None, None, None, None, None],  # a spacer row
    ]
    path = tmp_path / "orders.xlsx"
    path.write_bytes(xlsx_bytes(rows, header))
    out = run_cli(fresh_pg_url, "hotline", "import", str(path))
    assert "created 2, already imported 0, skipped 0" in out.stdout, out.stderr
    assert "ignored columns: 承办单位" in out.stderr
    by_no = {r["external_id"]: r for r in hotline_cases(fresh_pg_url)}
    assert set(by_no) == {"20250301001", "20250301002"}  # numbers read as text, no ".0"
    one = by_no["20250301001"]
    assert one["reporter_phone"] == "13900000009" and one["description"] == "【投诉】噪音扰民"
    assert one["reported_at"] == datetime(2025, 3, 1, 0, 30, tzinfo=UTC)
    two = by_no["20250301002"]
    assert two["lon"] == pytest.approx(POINT_G2[0], abs=1e-6) and two["original_crs"] == "gcj02"
    assert "already imported 2" in run_cli(fresh_pg_url, "hotline", "import", str(path)).stdout


BAD = [
    ["B-1", "2025-03-01 08:30", "", "", "", "测试路 1 号", "", "", "", "", ""],               # no content
    ["B-2", "yesterday-ish", "", "", "漏水", "测试路 2 号", "", "", "", "", ""],                # bad time
    ["B-3", "2025-03-01 08:30", "", "", "漏水", "", "121.405", "", "wgs84", "", ""],           # lon without lat
    ["B-4", "2025-03-01 08:30", "", "", "漏水", "测试路 4 号", "", "", "", "Z9999", ""],        # unknown category
    ["B-5", "2025-03-01 08:30", "", "", "路面塌陷", "测试路 5 号", "", "", "", "", ""],          # good
]


def test_cli_bad_rows_write_nothing_then_skip_invalid(fresh_pg_url, run_cli, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(BAD))
    out = run_cli(fresh_pg_url, "hotline", "import", str(path), check=False)
    assert out.returncode == 2, out.stdout + out.stderr
    err = out.stderr
    assert "invalid_rows" in err
    assert "line 2 content=''" in err
    assert "line 3 received_at='yesterday-ish'" in err
    assert "line 4 lat=''" in err
    assert "line 5 category_code='Z9999'" in err
    assert "line 6" not in err
    assert hotline_cases(fresh_pg_url) == []

    out = run_cli(fresh_pg_url, "hotline", "import", str(path), "--skip-invalid")
    assert "created 1, already imported 0, skipped 4" in out.stdout
    assert "skipped line 5 category_code='Z9999'" in out.stdout
    assert [r["external_id"] for r in hotline_cases(fresh_pg_url)] == ["B-5"]


def test_cli_point_without_coordinate_system_is_refused_unless_given(fresh_pg_url, run_cli, tmp_path):
    rows = [["P-1", "2025-03-01 08:30", "", "", "漏水", "", f"{GCJ_G2[0]:.8f}", f"{GCJ_G2[1]:.8f}"]]
    path = tmp_path / "points.csv"
    path.write_bytes(csv_bytes(rows, header=HEADER[:8]))
    out = run_cli(fresh_pg_url, "hotline", "import", str(path), check=False)
    assert out.returncode == 2 and "line 2 crs=''" in out.stderr
    out = run_cli(fresh_pg_url, "hotline", "import", str(path), "--crs", "gcj02")
    assert "created 1" in out.stdout
    (case,) = hotline_cases(fresh_pg_url)
    assert case["original_crs"] == "gcj02" and case["lon"] == pytest.approx(POINT_G2[0], abs=1e-6)


def test_cli_unreadable_file(fresh_pg_url, run_cli, tmp_path):
    path = tmp_path / "orders.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    out = run_cli(fresh_pg_url, "hotline", "import", str(path), check=False)
    assert out.returncode == 2 and "invalid_file" in out.stderr and ".xlsx" in out.stderr
    path = tmp_path / "nocols.csv"
    path.write_bytes(csv_bytes([["x"]], header=["编号"]))
    out = run_cli(fresh_pg_url, "hotline", "import", str(path), check=False)
    assert out.returncode == 2 and "missing column(s): order_no, received_at, content" in out.stderr


# --- HTTP --------------------------------------------------------------------------------

def post(client, headers, data: bytes, filename="orders.csv", query=""):
    return client.post(f"/api/v1/hotline/import{query}", headers=headers,
                       data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def test_http_gbk_csv_import_is_idempotent_and_located(client, city, db_session):
    data = csv_bytes(GOOD, encoding="gbk")
    r = post(client, city.h("clerk"), data)
    assert r.status_code == 200, r.json
    assert (r.json["created"], r.json["already_imported"], r.json["skipped"]) == (3, 0, 0)
    numbers = {c["order_no"]: c["number"] for c in r.json["cases"]}
    third = db_session.query(Case).filter_by(number=numbers["12345-0003"]).one()
    assert third.channel == "hotline" and third.description == "【求助】路灯不亮"
    assert third.grid_code == "31010100100102"  # the GCJ-02 point, converted, falls in grid 2
    assert third.original_crs == "gcj02" and third.lon == pytest.approx(POINT_G2[0], abs=1e-6)
    second = db_session.query(Case).filter_by(number=numbers["12345-0002"]).one()
    assert second.grid_code == "31010100100101" and second.suggested_department.code == "ROAD"
    submit = db_session.query(CaseEvent).filter_by(case_id=second.id).one()
    assert submit.verb == "submit" and submit.actor_role == "citizen"

    again = post(client, city.h("dispatcher"), csv_bytes(GOOD))  # the same orders, now UTF-8
    assert (again.json["created"], again.json["already_imported"]) == (0, 3)
    assert {c["number"] for c in again.json["existing_cases"]} == set(numbers.values())
    assert db_session.query(Case).filter_by(channel="hotline").count() == 3
    # an order imported before is not checked again (the export may have changed since)
    changed = [["12345-0001", "", "", "", "", "", "", "", "", "", ""], ["12345-0004", *GOOD[0][1:]]]
    r = post(client, city.h("clerk"), csv_bytes(changed))
    assert r.status_code == 200, r.json
    assert (r.json["created"], r.json["already_imported"]) == (1, 1)
    assert r.json["existing_cases"] == [{"line": 2, "order_no": "12345-0001", "number": numbers["12345-0001"]}]


def test_http_xlsx_import(client, city, db_session):
    data = xlsx_bytes([["X-1", datetime(2025, 3, 1, 8, 30), "赵六", "13700000000", "积水", "测试路 7 号"]],
                      ["order_no", "received_at", "caller_name", "phone", "content", "address"])
    r = post(client, city.h("clerk"), data, filename="orders.xlsx")
    assert r.status_code == 200 and r.json["created"] == 1, r.json
    case = db_session.query(Case).filter_by(external_id="X-1").one()
    assert case.reported_at == datetime(2025, 3, 1, 0, 30, tzinfo=UTC) and case.address == "测试路 7 号"


def test_http_bad_rows_are_listed_and_nothing_written(client, city, db_session):
    r = post(client, city.h("clerk"), csv_bytes(BAD))
    assert r.status_code == 422
    body = r.json
    assert body["code"] == "invalid_rows" and "4" in body["message"]
    problems = {(d["line"], d["column"]) for d in body["details"]}
    assert problems == {(2, "content"), (3, "received_at"), (4, "lat"), (5, "category_code")}
    assert all({"line", "column", "value", "message"} <= set(d) for d in body["details"])
    assert db_session.query(Case).filter_by(channel="hotline").count() == 0

    r = post(client, city.h("clerk"), csv_bytes(BAD), query="?skip_invalid=true&lang=en")
    assert r.status_code == 200
    assert (r.json["created"], r.json["already_imported"], r.json["skipped"]) == (1, 0, 4)
    assert {d["message"] for d in r.json["skipped_rows"]} >= {"required", "unknown category Z9999"}
    assert db_session.query(Case).filter_by(channel="hotline").count() == 1


def test_http_roles_and_bad_files(client, city):
    assert post(client, city.h("worker1"), csv_bytes(GOOD)).status_code == 403
    assert post(client, city.h("env"), csv_bytes(GOOD)).status_code == 403
    r = client.post("/api/v1/hotline/import", headers=city.h("clerk"), data={}, content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.json["fields"]
    r = post(client, city.h("clerk"), b"PK\x03\x04 not really a zip", filename="orders.xlsx")
    assert r.status_code == 400 and r.json["code"] == "invalid_file"
    r = post(client, city.h("clerk"), csv_bytes(GOOD), query="?crs=mars")
    assert r.status_code == 422


def test_duplicate_order_numbers_in_one_file(client, city):
    rows = [GOOD[0], GOOD[0]]
    r = post(client, city.h("clerk"), csv_bytes(rows))
    assert r.status_code == 422
    assert [(d["line"], d["column"]) for d in r.json["details"]] == [(3, "order_no")]


@pytest.mark.parametrize("value, expected", [
    ("2025-03-01 08:30", datetime(2025, 3, 1, 0, 30, tzinfo=UTC)),
    ("2025-03-01 08:30:15", datetime(2025, 3, 1, 0, 30, 15, tzinfo=UTC)),
    ("2025/3/1 8:30", datetime(2025, 3, 1, 0, 30, tzinfo=UTC)),
    ("2025年3月1日 8:30", datetime(2025, 3, 1, 0, 30, tzinfo=UTC)),
    ("2025-03-01T08:30:00Z", datetime(2025, 3, 1, 8, 30, tzinfo=UTC)),
    ("2025-03-01T08:30:00+08:00", datetime(2025, 3, 1, 0, 30, tzinfo=UTC)),
    (datetime(2025, 3, 1, 8, 30), datetime(2025, 3, 1, 0, 30, tzinfo=UTC)),
    (45717.5, datetime(2025, 3, 1, 4, 0, tzinfo=UTC)),  # an Excel date cell formatted as a number
])
def test_parse_time(value, expected):
    assert parse_time(value, "Asia/Shanghai") == expected


@pytest.mark.parametrize("value", ["", "yesterday", "2025-13-01 08:00", "2025-02-30"])
def test_parse_time_refuses(value):
    with pytest.raises(ValueError):
        parse_time(value, "Asia/Shanghai")
