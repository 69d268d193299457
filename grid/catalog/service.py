"""The category catalog is data: loaded from a JSON file (the project ships a default)."""
from __future__ import annotations

import json
from pathlib import Path

from grid.catalog.limits import set_limit
from grid.models import EVERYWHERE, Category

DEFAULT_CATALOG = Path(__file__).parents[1] / "data" / "catalog.json"


def init_catalog(session) -> str:
    """``wangge init``: load (or refresh) the default catalog; a summary line."""
    counts = load_catalog(session)
    return f"catalog: {counts['categories']} categories, {counts['limits']} limits"


def load_catalog(session, path: str | Path | None = None) -> dict:
    doc = json.loads(Path(path or DEFAULT_CATALOG).read_text(encoding="utf-8"))
    counts = {"categories": 0, "limits": 0}
    for stage, (amount, unit) in doc.get("default_limits", {}).items():
        set_limit(session, EVERYWHERE, stage, amount, unit)
        counts["limits"] += 1
    for sort, big in enumerate(doc["categories"]):
        _upsert(session, big, big["kind"], None, sort)
        counts["categories"] += 1
        session.flush()
        for child_sort, small in enumerate(big.get("children", [])):
            _upsert(session, small, big["kind"], big["code"], child_sort)
            counts["categories"] += 1
            for stage, (amount, unit) in small.get("limits", {}).items():
                session.flush()
                set_limit(session, small["code"], stage, amount, unit)
                counts["limits"] += 1
    session.flush()
    return counts


def _upsert(session, entry: dict, kind: str, parent_code: str | None, sort: int) -> Category:
    cat = session.get(Category, entry["code"]) or Category(code=entry["code"])
    cat.kind, cat.parent_code, cat.sort = kind, parent_code, sort
    cat.name_zh, cat.name_en = entry["name_zh"], entry.get("name_en")
    cat.auto_dispatch = bool(entry.get("auto_dispatch", False))
    session.add(cat)
    return cat
