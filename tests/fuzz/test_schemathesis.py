"""Every operation in the OpenAPI document, fed generated (valid and invalid) input, answers
without a server error and with a response its document describes. Runs as a signed-in admin
and anonymously; each operation's requests go through the savepoint ``client`` and are rolled
back with the test."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import ADMIN_URL, make_settings
from wangge import create_app

MAX_EXAMPLES = 20


def _load_schema():
    """The document is read at collection time from an app that never touches its database
    (serving /api/openapi.json needs none); requests go to the test's own ``app``."""
    spec_app = create_app(make_settings(ADMIN_URL))
    loaded = schemathesis.openapi.from_wsgi("/api/openapi.json", spec_app)
    loaded.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, no_shrink=True)
    return loaded


schema = _load_schema()
CHECKS = [not_a_server_error]
FUZZ_SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))


@schema.parametrize()
@FUZZ_SETTINGS
def test_as_admin(case, app, client, admin):
    case.call_and_validate(session=client, app=app, headers=admin, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_anonymous(case, app, client):
    case.call_and_validate(session=client, app=app, checks=CHECKS)
