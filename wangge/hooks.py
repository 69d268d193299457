"""Where the domains plug into the core. The core (``wangge``) knows no domain: each domain
package named in ``Settings.domains`` has an ``init_app(app, api)`` that registers its
blueprints and commands and fills these hooks at app creation.

- ``token_resolver(session, secret)`` turns a bearer secret into a token (grid's accounts);
- ``role_label(role, lang)`` names a role for people (403 messages);
- ``after_commit`` / ``after_rollback``: called with the session after the request's commit
  or rollback at the edge (dispatch relays the notifications the request wrote);
- ``periodic``: functions ``fn(session) -> dict`` the worker's tick runs every
  ``WANGGE_SWEEP_INTERVAL_SECONDS`` (deadline sweeps, outbox relay);
- ``frequent``: functions ``fn(session)`` each ``wangge worker`` process runs itself every
  ``WANGGE_RELAY_INTERVAL_SECONDS`` (the outbox relay: what requests wrote reaches rq);
- ``on_init``: functions ``fn(session) -> str`` that ``wangge init`` runs after migrating
  (reference data such as the category catalog), each returning a summary line;
- ``demo``: ``(is_loaded(session), load(session, echo) -> summary)`` for ``wangge serve``."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app

EXTENSION = "wangge_hooks"


@dataclass
class Hooks:
    token_resolver: Callable | None = None
    role_label: Callable[[str, str], str] = lambda role, lang: role
    after_commit: list[Callable] = field(default_factory=list)
    after_rollback: list[Callable] = field(default_factory=list)
    periodic: list[Callable] = field(default_factory=list)
    frequent: list[Callable] = field(default_factory=list)
    on_init: list[Callable] = field(default_factory=list)
    demo: tuple[Callable, Callable] | None = None


def init_app(app: Flask) -> Hooks:
    app.extensions[EXTENSION] = Hooks()
    return app.extensions[EXTENSION]


def hooks(app: Flask | None = None) -> Hooks:
    return (app or current_app).extensions[EXTENSION]
