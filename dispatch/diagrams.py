"""``wangge lifecycle diagram``: a state machine declared as data, as Markdown (Mermaid diagram,
the verb table, the clocked stages). ``--table case`` (the default, ``dispatch/cases/lifecycle.py``)
is the whole of ``docs/lifecycle.md``; ``--table enforcement``
(``dispatch/enforcement/lifecycle.py``) is the generated part of ``docs/enforcement.md``.
``--write`` puts the output into its document instead of printing it."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from dispatch.cases.lifecycle import CASES, embed, markdown
from dispatch.enforcement.lifecycle import TABLE as ENFORCEMENT

DOCS = Path(__file__).resolve().parents[1] / "docs"
# table -> (the table, its document, whether the whole document is generated)
TABLES = {"case": (CASES, "lifecycle.md", True), "enforcement": (ENFORCEMENT, "enforcement.md", False)}

lifecycle = AppGroup("lifecycle", help="The case lifecycle (案件生命周期) and the enforcement stages, declared as data.")


@lifecycle.command("diagram")
@click.option("--table", "name", type=click.Choice(sorted(TABLES)), default="case", show_default=True,
              help="which state machine")
@click.option("--write", is_flag=True, help="write it into docs/lifecycle.md or docs/enforcement.md")
def diagram(name, write):
    """Print the Markdown: ``wangge lifecycle diagram > docs/lifecycle.md``; the enforcement
    stages with ``--table enforcement --write``."""

    table, doc, whole = TABLES[name]
    if not write:
        click.echo(markdown(table), nl=False)
        return
    path = DOCS / doc
    text = markdown(table) if whole else embed(path.read_text(encoding="utf-8"), table)
    if not whole and text == path.read_text(encoding="utf-8") and markdown(table) not in text:
        raise click.ClickException(f"{path} has no generated part (the markers of dispatch.cases.lifecycle)")
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


commands = [lifecycle]
