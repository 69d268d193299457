"""Every message a user can see exists in both message catalogs (wangge/translations), and a
request is answered in its reader's language: field messages (marshmallow's own included),
the suggestion reason, and times in the reader's zone."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
from marshmallow import Schema, fields

from dispatch.cases.lifecycle import STATES, VERBS
from dispatch.enforcement.service import CLOSED, STAGES
from dispatch.workflow.presenters import PUBLIC_STATES
from grid.roles import ROLES
from tests.docs.test_error_table import codes_in_code
from wangge.i18n import SUPPORTED, catalog, field_message, t

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("wangge", "grid", "dispatch", "mobile_api")
T_CALL = re.compile(r"""\bt\(\s*["']([a-z0-9_]+)["']""")
NOUN = re.compile(r"""\bNotFound\(\s*["']([a-z_]+)["']""")
TEMPLATE_FIELD = re.compile(r"\{(\w+)")


def ids(lang: str) -> dict[str, str]:
    return {m.id: m.string for m in catalog(lang) if m.id and not m.fuzzy}


def missing(keys) -> dict[str, list[str]]:
    out = {}
    for key in keys:
        langs = [lang for lang in SUPPORTED if not ids(lang).get(key)]
        if langs:
            out[key] = langs
    return out


def test_both_catalogs_have_the_same_ids_each_translated():
    zh, en = ids("zh"), ids("en")
    assert set(zh) ^ set(en) == set(), "an id is in one catalog only"
    assert [k for k, v in zh.items() if not v.strip()] == []
    assert [k for k, v in en.items() if not v.strip()] == []
    assert [m.id for lang in SUPPORTED for m in catalog(lang) if m.id and m.fuzzy] == []


def test_both_translations_of_an_id_name_the_same_placeholders():
    zh, en = ids("zh"), ids("en")
    allowed = {"notify_case_event"}  # English names the verb by its code ({verb_en})
    differ = {k: (zh[k], en[k]) for k in zh if k not in allowed
              and set(TEMPLATE_FIELD.findall(zh[k])) != set(TEMPLATE_FIELD.findall(en[k]))}
    assert differ == {}


def keys_in_code() -> set[str]:
    keys: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            keys |= set(T_CALL.findall(text)) | set(NOUN.findall(text))
    return keys


def test_every_key_the_code_passes_to_t_is_translated():
    keys = keys_in_code()
    assert len(keys) > 50  # the scan finds the calls
    assert missing(keys) == {}


def test_every_error_code_has_a_message():
    assert missing(codes_in_code()) == {}


def test_the_words_of_states_verbs_roles_and_stages_are_translated():
    keys = ({f"state_{s}" for s in STATES} | {f"verb_{v}" for v in VERBS} | {f"role_{r}" for r in ROLES}
            | {f"public_state_{p}" for p in PUBLIC_STATES}
            | {f"enforcement_stage_{s}" for s in (*STAGES, CLOSED)})
    assert missing(keys) == {}
    # The lifecycle table (which also writes the docs) and the catalog say the same in Chinese.
    zh = ids("zh")
    assert {s: w for s, (w, _, _) in STATES.items() if zh[f"state_{s}"] != w} == {}
    assert {v.name: v.zh for v in VERBS.values() if zh[f"verb_{v.name}"] != v.zh} == {}


# --- marshmallow's own messages, for every schema of the project --------------------------

def our_schemas() -> list[type[Schema]]:
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        for info in pkgutil.walk_packages(pkg.__path__, f"{package}."):
            if ".migrations" not in info.name and not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    seen, todo = [], list(Schema.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in PACKAGES:
            seen.append(cls)
    return seen


def _fields(field: fields.Field):
    yield field
    for attr in ("inner", "key_field", "value_field"):
        inner = getattr(field, attr, None)
        if isinstance(inner, fields.Field):
            yield from _fields(inner)
    for inner in getattr(field, "tuple_fields", None) or ():
        yield from _fields(inner)


def templates_of(field: fields.Field) -> set[str]:
    """The messages the field can answer with, as templates (marshmallow formats the
    remaining {fields} when it raises)."""
    out = set()
    context = {"obj_type": getattr(field, "OBJ_TYPE", ""), "awareness": getattr(field, "AWARENESS", "")}
    for message in field.error_messages.values():
        if "{awareness}" in message and not context["awareness"]:
            continue  # only naive and aware datetimes say this
        if isinstance(message, str):
            out.add(re.sub(r"\{(obj_type|awareness)\}", lambda m: context[m.group(1)], message))
    for validator in field.validators:
        if not hasattr(validator, "__dict__") or inspect.isfunction(validator):
            continue
        if getattr(validator, "error", None):
            out.add(validator.error)
            continue
        names = [a for a in dir(validator) if a.startswith("message") or a == "default_message"]
        for name in names:
            value = getattr(validator, name)
            if isinstance(value, str) and value.endswith("."):
                out.add(value)
    return out


def test_every_marshmallow_message_of_our_schemas_is_translated():
    schemas = our_schemas()
    assert len(schemas) > 20
    templates = set(Schema().error_messages.values()) | set(Schema._default_error_messages.values())
    for schema in schemas:
        for declared in schema._declared_fields.values():
            for field in _fields(declared):
                templates |= templates_of(field)
    assert "Must be greater than or equal to {min} and less than or equal to {max}." in templates
    assert missing(templates) == {}


@pytest.mark.parametrize("english, chinese", [
    ("Must be greater than or equal to 1 and less than or equal to 500.", "必须大于或等于 1 且小于或等于 500"),
    ("Missing data for required field.", "必填"),
    ("Unknown field.", "未知字段"),
    ("Longer than maximum length 200.", "长度不能超过 200"),
    ("Must be one of: csv, xlsx.", "必须是以下之一：csv, xlsx"),
    ("unknown category ZZ99", "没有这个问题类别：ZZ99"),
])
def test_a_formatted_marshmallow_message_is_matched_back_to_its_template(english, chinese):
    assert field_message(english, "zh") == chinese
    assert field_message(english, "en") == english


def test_a_message_not_in_the_catalogs_passes_unchanged():
    assert field_message("某个中文消息", "en") == "某个中文消息"
    assert t("no_such_key_anywhere", lang="en") == "no_such_key_anywhere"
