"""Answers in the reader's language and zone: field messages (marshmallow's own and the
lifecycle's checks), the suggestion reason, enforcement record times, the CLI token expiry.
The catalogs themselves: tests/unit/test_i18n_catalogs.py."""
from __future__ import annotations

from datetime import datetime

import pytest

from tests.dispatch.conftest import do, report


@pytest.mark.postgis
def test_field_messages_follow_the_request_language(client, city):
    number = report(client, city)["number"]
    url = f"/api/v1/cases/{number}/actions/accept"
    for lang, words in (("zh", "必须大于或等于"), ("en", "Must be greater than or equal to")):
        r = client.get(f"/api/v1/cases?limit=0&lang={lang}", headers=city.h("clerk"))
        assert r.status_code == 422 and words in r.json["fields"]["limit"][0], r.json
    # a check of the lifecycle ("required for this action"), in each reader's language
    for lang, words in (("zh", "此操作必填"), ("en", "required for this action")):
        r = client.post(f"/api/v1/cases/{number}/actions/reject?lang={lang}", json={}, headers=city.h("clerk"))
        assert r.status_code == 422 and r.json["fields"]["note"] == [words], r.json
    r = client.post(f"{url}?lang=zh", json={"note": 5}, headers=city.h("clerk"))
    assert r.status_code == 422 and r.json["fields"]["note"] == ["不是有效的字符串"], r.json


@pytest.mark.postgis
def test_the_suggestion_reason_is_in_the_readers_language(client, city):
    number = report(client, city, category="C0101")["number"]  # reported by a zh reader
    zh = client.get(f"/api/v1/cases/{number}?lang=zh", headers=city.h("clerk")).json["suggestion_reason"]
    en = client.get(f"/api/v1/cases/{number}?lang=en", headers=city.h("clerk")).json["suggestion_reason"]
    assert zh == "类别 C0101 在全域的责任规则指定 路政（最具体的匹配）"
    assert en == "The rule for category C0101 on everywhere names 路政 (most specific match)"


@pytest.mark.postgis
def test_an_enforcement_records_due_at_is_in_the_readers_zone(client, city, db_session):
    n = report(client, city, category="E0304", address="测试路 8 号")["number"]
    do(client, city, "clerk", n, "accept")
    do(client, city, "shift", n, "open")
    c = do(client, city, "dispatcher", n, "refer_enforcement", note="违法建设，直接移交执法")
    number = c["events"][-1]["data"]["enforcement_number"]
    city.staff["zfleader"].timezone = "America/New_York"
    db_session.commit()
    body = client.get(f"/api/v1/enforcement/{number}", headers=city.h("zfleader")).json
    due = body["records"][0]["data"]["due_at"]
    assert datetime.fromisoformat(due).utcoffset() == datetime.fromisoformat(body["stage_due_at"]).utcoffset()
    assert due == body["stage_due_at"] and not due.endswith("+00:00")


@pytest.mark.postgis
def test_cli_token_expiry_is_in_the_staff_members_zone(fresh_pg_url, run_cli):
    run_cli(fresh_pg_url, "init")
    run_cli(fresh_pg_url, "staff", "create", "--username", "svc", "--name", "svc", "--role", "intake_clerk",
            "--password", "secret-password")
    out = run_cli(fresh_pg_url, "staff", "token", "svc", "--days", "1")
    expires = out.stderr.strip().splitlines()[-1].removeprefix("expires ")
    assert datetime.fromisoformat(expires).utcoffset().total_seconds() == 8 * 3600  # Asia/Shanghai
