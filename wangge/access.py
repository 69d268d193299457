"""Who may call what: the access table of every endpoint, read from the role each view
declares (``@requires(...)`` or ``@public``). ``docs/security.md`` embeds it between
``<!-- access-table -->`` markers; a test fails when the two disagree.

Regenerate: ``python -m wangge.access --update docs/security.md``."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from flask import Flask

from .auth import PUBLIC_ATTR, ROLES_ATTR, view_target

BEGIN, END = "<!-- access-table -->", "<!-- /access-table -->"
UNLISTED = {"static"}


def rows(app: Flask) -> list[tuple[str, str, str]]:
    """(path, method, who) for every endpoint; who is "public", "any staff" or role names."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNLISTED or rule.rule.startswith("/__testing__/"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            target = view_target(view, method)
            if getattr(target, PUBLIC_ATTR, False) or rule.endpoint.startswith("api-docs."):
                who = "public"
            elif hasattr(target, ROLES_ATTR):
                roles = getattr(target, ROLES_ATTR)
                who = ", ".join(roles) if roles else "any staff"
            else:
                who = "UNDECLARED"
            found.add((re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method, who))
    return sorted(found)


def markdown(app: Flask) -> str:
    lines = ["| path | method | who may call it |", "|---|---|---|"]
    lines += [f"| `{path}` | {method} | {who} |" for path, method, who in rows(app)]
    return "\n".join(lines)


def embedded_table(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip()


def update(path: Path, app: Flask) -> None:
    text = path.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    path.write_text(text[:start] + "\n" + markdown(app) + "\n" + text[end:], encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    from . import create_app  # only when run as a script; the package imports this module

    application = create_app()
    if len(sys.argv) == 3 and sys.argv[1] == "--update":
        update(Path(sys.argv[2]), application)
    else:
        print(markdown(application))
