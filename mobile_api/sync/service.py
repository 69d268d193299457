"""A pull: every registered source's changes since its part of the cursor, and the next
cursor. The feed mark is taken first, before any source reads, so nothing committed after
it can be skipped (docs/mobile.md, "Offline sync: pull")."""
from __future__ import annotations

from grid.models import Staff
from mobile_api.sync import feed
from mobile_api.sync.sources import SOURCES

VERSION = 1


def load_cursor(value) -> dict:
    """A cursor from a phone, each source's part checked by that source (ValueError if not ours)."""
    if not isinstance(value, dict) or value.get("v") != VERSION or not isinstance(value.get("s"), dict):
        raise ValueError("bad cursor")
    parts = value["s"]
    if set(parts) - set(SOURCES):
        raise ValueError("unknown source")
    return {name: SOURCES[name].load(part) for name, part in parts.items()}


def pull(session, staff: Staff, since: dict | None, *, limit: int, crs: str) -> dict:
    until = feed.mark(session)
    since = since or {}
    changes, parts, more, reset = {}, {}, False, []
    for name, source in SOURCES.items():
        answer = source.fn(session, staff, since.get(name), until, limit=limit, crs=crs)
        changes.update(answer.tables)
        parts[name] = answer.cursor
        more = more or answer.more
        reset += answer.reset
    return {"changes": changes, "cursor": {"v": VERSION, "s": parts}, "has_more": more, "reset": reset}
