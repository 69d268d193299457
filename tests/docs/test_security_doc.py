"""docs/security.md tells the truth: its access table is the one the code declares."""
from pathlib import Path

from wangge import access

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_access_table_in_the_docs_matches_the_code(app):
    documented = access.embedded_table(DOC.read_text(encoding="utf-8"))
    assert documented == access.markdown(app), (
        "docs/security.md is out of date: run `python -m wangge.access --update docs/security.md`")


def test_no_endpoint_is_undeclared(app):
    assert [row for row in access.rows(app) if row[2] == "UNDECLARED"] == []
