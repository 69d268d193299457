"""Every operation in the OpenAPI document, fed generated (valid and invalid) input, answers
without a server error and with a response its document describes. Runs as a signed-in admin
and anonymously; each operation's requests go through the savepoint ``client`` and are rolled
back with the test."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import ADMIN_URL, make_settings
from wangge import create_app
from wangge.extensions import limiter

MAX_EXAMPLES = int(os.environ.get("WANGGE_FUZZ_EXAMPLES", "20"))


def _load_schema():
    """The document is read at collection time from an app that never touches its database
    (serving /api/openapi.json needs none); requests go to the test's own ``app``."""
    spec_app = create_app(make_settings(ADMIN_URL))
    loaded = schemathesis.openapi.from_wsgi("/api/openapi.json", spec_app)
    loaded.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, no_shrink=True)
    return loaded


schema = _load_schema()
# Errors are documented as 4XX/5XX (the project's error format, Open311's list on its paths),
# successes where the operation declares them: every answer is checked against its schema.
CHECKS = [not_a_server_error, response_schema_conformance]
# schemathesis sends requests' default ``Accept-Encoding: gzip, deflate`` but its WSGI transport
# never decodes a body, so large answers (gzipped by Flask-Compress) would not parse: ask for
# them uncompressed (tests/mobile/test_me_profile.py covers gzip).
IDENTITY = {"Accept-Encoding": "identity"}
FUZZ_SETTINGS = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))


@pytest.fixture
def no_rate_limits():
    """Thousands of generated requests would spend the rate-limit budget of 127.0.0.1 kept in
    the shared Redis, and later tests (or runs) would get 429s: limits are off while fuzzing."""
    limiter.enabled = False
    try:
        yield
    finally:
        limiter.enabled = True


@schema.parametrize()
@FUZZ_SETTINGS
def test_as_admin(case, app, client, admin, no_rate_limits):
    case.call_and_validate(session=client, app=app, headers={**admin, **IDENTITY}, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_anonymous(case, app, client, no_rate_limits):
    case.call_and_validate(session=client, app=app, headers=IDENTITY, checks=CHECKS)
