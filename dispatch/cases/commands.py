"""``wangge lifecycle diagram``: the case state machine as Markdown (Mermaid diagram and the
verb table), generated from ``dispatch/lifecycle.py``. ``docs/lifecycle.md`` is its output."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from dispatch.cases.lifecycle import markdown

lifecycle = AppGroup("lifecycle", help="The case lifecycle (案件生命周期), declared as data.")


@lifecycle.command("diagram")
def diagram():
    """Print docs/lifecycle.md: ``wangge lifecycle diagram > docs/lifecycle.md``."""

    click.echo(markdown(), nl=False)


commands = [lifecycle]
