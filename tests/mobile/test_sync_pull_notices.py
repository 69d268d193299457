"""My notifications arrive through the sync pull: a dispatch notifies the department's
handler, the next pull brings the notice, marking it read brings it again as read, and
nobody else is told."""
from __future__ import annotations

from tests.mobile.fixtures_inbox import PULL, dispatched, get


def notices(answer):
    return answer["changes"]["notifications"]["updated"]


def settle(client, city, who, cursor=None):
    seen = []
    while True:
        answer = get(client, city.h(who), PULL, 200, **({"cursor": cursor} if cursor else {}))
        seen += notices(answer)
        cursor = answer["cursor"]
        if not answer["has_more"]:
            return cursor, seen


def test_a_notice_comes_with_the_pull_and_again_when_read(client, city):
    cursor, _ = settle(client, city, "env")
    road_cursor, _ = settle(client, city, "road")
    number = dispatched(client, city, "E0102", "ENV")
    cursor, seen = settle(client, city, "env", cursor)
    mine = [n for n in seen if n["case_number"] == number]
    assert mine and not any(n["read"] for n in mine)
    assert all(n["title"] and n["text"] for n in mine)
    r = client.post("/api/m/v1/notifications/read", json={"ids": [mine[0]["id"]]}, headers=city.h("env"))
    assert r.status_code == 200, r.json
    _, again = settle(client, city, "env", cursor)
    assert any(n["id"] == mine[0]["id"] and n["read"] for n in again)
    # the other department's handler is told nothing about it
    _, road = settle(client, city, "road", road_cursor)
    assert all(n["case_number"] != number for n in road)


def test_a_forged_notifications_cursor_is_refused(client, city):
    from mobile_api.inbox.cursor import decode, encode

    cursor = decode(get(client, city.h("env"), PULL, 200)["cursor"])
    for bad in ("x", -1, 2**63, [1], 1.5):
        cursor["s"]["notifications"] = bad
        r = client.get(PULL, query_string={"cursor": encode(cursor)}, headers=city.h("env"))
        assert r.status_code == 422, (bad, r.json)
        assert "cursor" in r.json["fields"]
