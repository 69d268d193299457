"""A phone client generated from the OpenAPI document works: openapi-python-client (a
widely used generator) turns the phone API's part of the document into a typed Python
client without a warning, and that client signs in, pulls, pushes and reads its inbox,
notifications and grids against the real ``wangge serve`` (embedded default, demo city).
Typed parsing of every answer means an answer that strays from its documented schema fails."""
from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from grid.demo import DEMO_PASSWORD
from tests.embedded.test_embedded_smoke import running_server

PACKAGE = "wangge_phone_client"


def _phone_document() -> dict:
    from tests.conftest import ADMIN_URL, make_settings
    from wangge import create_app

    spec = create_app(make_settings(ADMIN_URL)).test_client().get("/api/openapi.json").json
    spec["paths"] = {path: item for path, item in spec["paths"].items() if path.startswith("/api/m/v1/")}
    return spec


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The generated client package, imported."""
    generator = shutil.which("openapi-python-client", path=os.path.dirname(sys.executable))
    assert generator, "openapi-python-client is a dev dependency (pyproject.toml)"
    work = tmp_path_factory.mktemp("client")
    (work / "phone.json").write_text(json.dumps(_phone_document()))
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run([generator, "generate", "--path", "phone.json", "--meta", "none",
                           "--output-path", PACKAGE], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(work))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("gen") / "var") as (base, _env):
        yield base


def _module(pkg, name):
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_generated_client_signs_in_pulls_pushes_and_reads(generated, served):
    client_mod = _module(generated, "client")
    models = _module(generated, "models")
    sessions = _module(generated, "api.mobile_me.post_api_m_v1_sessions")
    me = _module(generated, "api.mobile_me.get_api_m_v1_me")
    grids = _module(generated, "api.mobile_me.get_api_m_v1_me_grids")
    pull = _module(generated, "api.mobile_sync.get_api_m_v1_sync_pull")
    push = _module(generated, "api.mobile_push.post_api_m_v1_sync_push")
    inbox = _module(generated, "api.mobile_inbox.get_api_m_v1_inbox")
    notices = _module(generated, "api.mobile_notices.get_api_m_v1_notifications")

    anonymous = client_mod.Client(base_url=served, raise_on_unexpected_status=True)
    issued = sessions.sync(client=anonymous, body=models.SessionCreate.from_dict({
        "username": "wgy001", "password": DEMO_PASSWORD, "device_id": f"gen-{uuid.uuid4().hex[:8]}",
        "platform": "android"}))
    assert isinstance(issued, models.SessionIssuedView), issued
    phone = client_mod.AuthenticatedClient(base_url=served, token=issued.access_token,
                                           raise_on_unexpected_status=True)

    profile = me.sync(client=phone)
    assert profile.username == "wgy001" and profile.grid_codes

    collection = grids.sync_detailed(client=phone, crs=grids.GetApiMV1MeGridsCrs.GCJ02)
    assert collection.status_code == 200

    first = pull.sync(client=phone)
    assert isinstance(first, models.PullView) and first.has_more is False
    assert len(first.changes.grids.updated) >= 1

    client_id = f"r-gen-{uuid.uuid4().hex[:12]}"
    body = models.Push.from_dict({"items": [{"client_id": client_id, "type": "report", "report": {
        "description": "路边有暴露垃圾", "category_code": "E0102", "lon": 121.4751, "lat": 31.2112}}]})
    answer = push.sync(client=phone, body=body)
    assert isinstance(answer, models.PushAnswer), answer
    created = answer.items[0]
    assert created.outcome.value == "created" and created.case.number
    again = push.sync(client=phone, body=body)
    assert again.items[0].outcome.value == "already_done" and again.items[0].case.number == created.case.number

    later = pull.sync(client=phone, cursor=first.cursor)
    assert created.case.number in [item.number for item in later.changes.cases.updated]

    page = inbox.sync(client=phone, lon=121.4751, lat=31.2112)
    assert isinstance(page, models.InboxView), page
    listed = [item for item in page.items if item.number == created.case.number]
    assert listed and "self_handle" in listed[0].verbs and listed[0].distance_m < 1

    mine = notices.sync(client=phone)
    assert isinstance(mine, models.NoticePage), mine
