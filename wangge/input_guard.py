"""Requests refused before any view runs: input no view should ever have to think about
(ids beyond the database's integer range in paths, NUL bytes, lone surrogates, absurdly
nested JSON). Each refusal is a 4xx in the project's error format."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the guards (called by the app factory before the blueprints)."""
