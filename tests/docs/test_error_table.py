"""docs/api.md lists every error code the service can answer, and no code it cannot."""
import re
from pathlib import Path

from wangge.errors import HTTP_CODES

ROOT = Path(__file__).resolve().parents[2]
RAISED = re.compile(r'(?:ApiError|Conflict|Forbidden|super\(\)\.__init__)\(\s*"([a-z_]+)"')


def codes_in_code() -> set[str]:
    codes = set(HTTP_CODES.values()) | {"not_found", "internal_error"}
    for package in ("wangge", "grid", "dispatch", "mobile_api"):
        for path in (ROOT / package).rglob("*.py"):
            codes |= set(RAISED.findall(path.read_text(encoding="utf-8")))
    return codes


def codes_in_docs() -> set[str]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| \d{3} \| `([a-z_]+)` \|", text, flags=re.M))


def test_every_error_code_is_documented_and_every_documented_code_exists():
    in_code, in_docs = codes_in_code(), codes_in_docs()
    assert in_code - in_docs == set(), "codes missing from docs/api.md"
    assert in_docs - in_code == set(), "docs/api.md lists codes the code never answers"


def test_every_error_code_has_a_message_in_both_languages():
    from wangge.i18n import catalog

    missing = {code: [lang for lang in ("zh", "en") if not (code in catalog(lang) and catalog(lang)[code].string)]
               for code in codes_in_code()}
    assert {code: langs for code, langs in missing.items() if langs} == {}
