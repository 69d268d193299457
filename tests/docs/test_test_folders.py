"""The README's row of test folders names every folder of tests and no other, and every folder
marks its tests from the fixtures they use (tests/markers.py), so ``-m "not postgis"`` leaves
out every test that needs the database whichever folder it is in."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"


def folders_with_tests() -> set[str]:
    return {p.name for p in TESTS.iterdir() if p.is_dir() and any(p.rglob("test_*.py"))}


def test_the_readme_names_every_test_folder():
    row = next(line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| `tests/` |"))
    named = set(re.findall(r"`([a-z_]+)/`", row.split("|")[2]))
    assert named == folders_with_tests()


def test_every_test_folder_sets_the_markers():
    for name in sorted(folders_with_tests()):
        conftest = TESTS / name / "conftest.py"
        assert conftest.is_file() and "mark_by_fixtures(__file__, items)" in conftest.read_text(encoding="utf-8"), \
            f"tests/{name}/conftest.py must call tests.markers.mark_by_fixtures (see tests/markers.py)"
