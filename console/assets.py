"""The built front-end bundle (``console/static/dist``, made by ``make console-assets``)."""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from flask import send_from_directory, url_for

DIST = Path(__file__).with_name("static") / "dist"


@functools.cache
def _digest(path: Path, mtime_ns: int) -> str:  # noqa: ARG001 - part of the cache key
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _version(name: str) -> str:
    path = DIST / name
    return _digest(path, path.stat().st_mtime_ns) if path.is_file() else "missing"


def asset_url(name: str) -> str:
    """The URL of a built file, with its content hash so a new build is never served stale."""
    return url_for("console_session.asset", filename=name, v=_version(name))


def send_asset(filename: str):
    response = send_from_directory(DIST, filename, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
