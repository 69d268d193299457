"""Test fixtures.

A real PostGIS database is created once per run (migrations applied), each test runs in a
savepoint inside one outer transaction that is rolled back, and Redis is a real server
(database 15 by default, flushed per test that asks for it). Unit tests that need neither
never touch these fixtures.

Environment: WANGGE_TEST_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
WANGGE_TEST_REDIS_URL (default redis://127.0.0.1:6379/15), WANGGE_TEST_REDIS_DBS (see below).

In parallel (pytest-xdist, ``make test``) every worker is a process of its own: its own
``RUN_ID`` and so its own PostGIS databases, its own rate-limit keys, and its own Redis
database, because ``redis_conn`` flushes the database it uses. Worker ``gwN`` takes the N-th
number of ``WANGGE_TEST_REDIS_DBS`` ("8,7") when that is set, else the database of
``WANGGE_TEST_REDIS_URL`` minus N (15, 14, 13 ... by default). A serial run uses the database
of ``WANGGE_TEST_REDIS_URL`` itself.
"""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ADMIN_URL = os.environ.get("WANGGE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def worker_redis_url(base: str, worker: str | None, listed: str | None) -> str:
    """The Redis URL of one test process: ``base`` itself when serial (``worker`` is None),
    else worker ``gwN``'s database: the N-th of ``listed`` ("8,7,9"), or base's database - N."""
    if not worker:
        return base
    index = int(worker.removeprefix("gw"))
    parts = urlsplit(base)
    if listed:
        dbs = [int(n) for n in listed.replace(",", " ").split()]
        if index >= len(dbs):
            raise pytest.UsageError(f"WANGGE_TEST_REDIS_DBS={listed!r} names {len(dbs)} Redis databases "
                                    f"for more pytest-xdist workers ({worker}): name one per worker")
        number = dbs[index]
    else:
        number = int(parts.path.strip("/") or 0) - index
        if number < 0:
            raise pytest.UsageError(f"WANGGE_TEST_REDIS_URL={base!r} leaves no Redis database for worker "
                                    f"{worker}: set WANGGE_TEST_REDIS_DBS to one database per worker")
    return urlunsplit(parts._replace(path=f"/{number}"))


REDIS_URL = worker_redis_url(os.environ.get("WANGGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
                             os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("WANGGE_TEST_REDIS_DBS"))

# Session fixtures too dear to set up on every pytest-xdist worker: the tests that use one run
# on one worker (an ``xdist_group`` named after it; scripts/test.sh runs ``--dist loadgroup``).
ONE_WORKER_FIXTURES = {"replica_pair"}  # a private primary and replica: initdb, migrate, pg_basebackup


def xdist_group_of(item: pytest.Item) -> str | None:
    """The group that keeps ``item`` on the worker of the tests it shares a fixture with: one
    of ``ONE_WORKER_FIXTURES``, else its file when it uses a module-, class- or package-scoped
    fixture (set up once for the file, not once per worker). None: any worker will do."""
    used = set(getattr(item, "fixturenames", ()))
    if used & ONE_WORKER_FIXTURES:
        return min(used & ONE_WORKER_FIXTURES)
    info = getattr(item, "_fixtureinfo", None)
    for name in used:
        defs = info.name2fixturedefs.get(name) if info is not None else None
        if defs and defs[-1].scope in ("module", "class"):
            return item.nodeid.split("::")[0]
        if defs and defs[-1].scope == "package":
            return str(Path(item.nodeid.split("::")[0]).parent)
    return None


def pytest_collection_modifyitems(config, items):
    """On a pytest-xdist worker, write down each grouped test's group for the controller's
    scheduler (``pytest_xdist_make_scheduler`` below). pytest-xdist's own ``loadgroup`` puts
    the group into the test's node id, which pytest 9 no longer lets a plugin change: its groups
    were silently ignored, and the tests of one module-scoped fixture ran on both workers, each
    setting the fixture up."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return  # serial: nothing to keep together
    groups = {}
    for item in items:
        marks = [m.args[0] if m.args else m.kwargs.get("name", "default") for m in item.iter_markers("xdist_group")]
        group = "_".join(sorted(set(map(str, marks)))) or xdist_group_of(item)
        if group:
            groups[item.nodeid] = group
    path = _groups_file(_lock_dir(config), worker)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups), encoding="utf-8")
    tmp.replace(path)


def _groups_file(run_dir: Path, worker: str) -> Path:
    return run_dir / f"wangge-xdist-groups-{worker}.json"


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: unknown without the plugin
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the groups the workers wrote down at collection: the tests of
    one group go to one worker, as one unit of work."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    run_dir = config._tmp_path_factory.getbasetemp()  # the workers' base folders are in it

    class WrittenGroupScheduling(LoadGroupScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # asked first once every worker has collected
                self.groups = {}
                for path in run_dir.glob(_groups_file(Path(), "*").name):
                    self.groups.update(json.loads(path.read_text(encoding="utf-8")))
            group = self.groups.get(nodeid)
            return f"group:{group}" if group else super()._split_scope(nodeid)

    return WrittenGroupScheduling(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A test marked ``alone`` (it reads the whole PostgreSQL server's state, such as the
    transactions running in other databases) runs, fixtures and all, while no other worker of
    this run runs a test: every test holds a shared lock, an ``alone`` one the exclusive lock,
    and a turnstile lets a waiting ``alone`` test in before the others' next tests. Serially
    (no pytest-xdist workers) there is nobody to wait for."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        return (yield)
    import fcntl

    alone = item.get_closest_marker("alone") is not None
    base = _lock_dir(item.config) / f"wangge-tests-{run}"
    with open(f"{base}.turnstile", "a") as turnstile, open(f"{base}.lock", "a") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        return (yield)  # both locks go with the files


def _lock_dir(config) -> Path:
    """The run's folder that every worker shares (pytest's base temporary folder, whose
    ``popen-gwN`` subfolders are the workers'); the system's temporary folder otherwise."""
    import tempfile

    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return Path(tempfile.gettempdir())
    return factory.getbasetemp().parent


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is only beside the project in its own CI and dev machines)")
    return path


def _admin_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


RUN_ID = uuid.uuid4().hex[:8]


def _database_url(name: str) -> str:
    return f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"


@pytest.fixture(scope="session")
def pg_template():
    """A migrated database with the default catalog that nobody stays connected to, so
    ``CREATE DATABASE ... TEMPLATE`` can copy it in a fraction of a second."""
    from wangge import create_app
    from wangge.cli import upgrade_database
    from wangge.extensions import db

    name = f"wangge_tpl_{RUN_ID}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    app = create_app(make_settings(_database_url(name)))
    with app.app_context():
        upgrade_database()
        from grid.catalog.service import load_catalog

        load_catalog(db.session)
        db.session.commit()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    yield name
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _copy_template(template: str, suffix: str) -> str:
    name = f"wangge_test_{RUN_ID}_{suffix}"
    _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


@pytest.fixture(scope="session")
def pg_url(pg_template):
    name = _copy_template(pg_template, "main")
    yield _database_url(name)
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_pg_url(pg_template):
    """A database of its own for tests whose work is committed (CLI runs, concurrency)."""
    name = _copy_template(pg_template, uuid.uuid4().hex[:6])
    yield _database_url(name)
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def run_cli():
    """Run ``python -m wangge ARGS`` as a user would, against the given database URL."""
    import subprocess
    import sys

    def _run(database_url: str, *args: str, check: bool = True, **env_extra):
        env = {**os.environ, "WANGGE_DATABASE_URL": database_url, "WANGGE_REDIS_URL": REDIS_URL,
               "WANGGE_INDEX_CHECK_SECONDS": "0", **env_extra}
        proc = subprocess.run([sys.executable, "-m", "wangge", *args], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(f"wangge {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    return _run


def make_settings(database_url: str, **overrides):
    import tempfile

    from wangge.config import Settings

    values = dict(database_url=database_url, redis_url=REDIS_URL, testing=True, index_check_seconds=0,
                  token_check_seconds=0, load_demo=False, jobs_inline=False, data_dir=tempfile.mkdtemp(prefix="wangge-test-"),
                  # every test comes from 127.0.0.1: the per-address limits are tested on their
                  # own (with a low limit set in the test), not spent by the rest of the suite
                  login_address_rate_limit="100000 per minute", open311_rate_limit="100000 per minute",
                  # rate-limit counters of this run only: another run's (or a fuzz run's)
                  # requests from 127.0.0.1 never spend this run's budget
                  extra={"RATELIMIT_KEY_PREFIX": f"wangge-limit-{RUN_ID}"})
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def app(pg_url):
    from wangge import create_app
    from wangge.extensions import db

    app = create_app(make_settings(pg_url))
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def db_session(app):
    """A savepoint per test inside one outer transaction that is always rolled back."""
    from wangge.extensions import db

    ctx = app.app_context()
    ctx.push()
    engines = db._app_engines[app]
    engine = engines[None]
    connection = engine.connect()
    outer = connection.begin()
    engines[None] = connection
    db.session.remove()
    factory_kw = db.session.session_factory.kw
    saved = dict(factory_kw)
    factory_kw["join_transaction_mode"] = "create_savepoint"
    try:
        yield db.session
    finally:
        db.session.remove()
        factory_kw.clear()
        factory_kw.update(saved)
        engines[None] = engine
        outer.rollback()
        connection.close()
        ctx.pop()


@pytest.fixture
def client(app, db_session):
    """A test client that commits the test's own setup (to the test's savepoint) before each
    request, as real data exists before a user acts; a refused request then rolls back only
    its own work."""
    from flask.testing import FlaskClient

    class SetupCommittingClient(FlaskClient):
        def open(self, *args, **kwargs):
            db_session.commit()
            return super().open(*args, **kwargs)

    app.test_client_class = SetupCommittingClient
    try:
        yield app.test_client()
    finally:
        app.test_client_class = None


@pytest.fixture
def redis_conn():
    from redis import Redis

    conn = Redis.from_url(REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def login(db_session):
    """``login("dispatcher")`` -> Authorization headers for a new staff member with those roles.
    The account is committed to the test's savepoint, so a refused request (which rolls back
    its own work) never takes the test's account with it."""
    from grid.accounts.service import issue_token
    from tests.factories import StaffFactory

    def _login(*roles, **staff_fields):
        staff = StaffFactory(roles=list(roles), **staff_fields)
        secret, _ = issue_token(db_session, staff, ttl_hours=1)
        db_session.commit()
        return {"Authorization": f"Bearer {secret}"}

    return _login


@pytest.fixture
def admin(login):
    return login("admin")
