"""The console's fixtures: the built front-end bundle, a live server on the demo city (its own
PostGIS database, committed data) and Debian's chromium driven by Playwright.

Screenshots go to ``$WANGGE_SCREENSHOTS`` (default ``docs/screenshots``), rewritten each run."""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import zlib
from pathlib import Path

import pytest

from tests.conftest import ROOT, _admin_execute, _copy_template, _database_url, make_settings
from tests.markers import mark_by_fixtures

CHROMIUM = os.environ.get("WANGGE_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("WANGGE_SCREENSHOTS", ROOT / "docs" / "screenshots"))
DIST = ROOT / "console" / "static" / "dist"


def pytest_collection_modifyitems(items):
    mark_by_fixtures(__file__, items)


@pytest.fixture(scope="session")
def bundle():
    """The front-end bundle, built as ``make run`` builds it when missing or stale; one
    pytest-xdist worker at a time (a lock file), so none reads a bundle another is writing."""
    if shutil.which("make") and shutil.which("npm"):
        lock_path = Path(tempfile.gettempdir()) / f"wangge-bundle-{zlib.crc32(bytes(ROOT)):08x}.lock"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            subprocess.run(["make", "-s", "console-assets"], cwd=ROOT, check=True, timeout=600)
    assert (DIST / "queue.js").is_file() and (DIST / "citizen.js").is_file(), \
        "console/static/dist is not built: run `make console-assets` (needs node and npm)"
    return DIST


@pytest.fixture(scope="session")
def live(pg_template, bundle):
    """The app on the demo city in a database of its own, served on a free port by a thread.
    Yields (base URL, app)."""
    from werkzeug.serving import make_server

    from wangge import create_app
    from wangge.extensions import db
    from wangge.hooks import hooks

    name = _copy_template(pg_template, "console")
    app = create_app(make_settings(_database_url(name)))
    with app.app_context():
        loaded, load = hooks(app).demo
        if not loaded(db.session):
            load(db.session, echo=lambda *_a, **_k: None)
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(10)
        with app.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make services` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """``new_page(locale, **context options)``: a page in a fresh browser context (own cookies)."""
    contexts = []

    def _new(locale: str = "zh-CN", **options):
        context = browser.new_context(locale=locale, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
