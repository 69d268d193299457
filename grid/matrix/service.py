"""Responsibility matrix: (category, grid or any ancestor) -> department; most specific wins."""
from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select

from grid.catalog import reference
from grid.departments.service import NOT_DISPATCHABLE, not_dispatchable_message
from grid.grids.service import chain, get_current
from grid.models import EVERYWHERE, Category, Department, Grid, Responsibility
from wangge.errors import ApiError, NotFound, validation_error
from wangge.i18n import t

CSV_COLUMNS = ["category_code", "grid_code", "department_code", "note",
               "category_name", "grid_name", "department_name"]


@dataclass
class Explanation:
    category_code: str
    grid: Grid | None
    department: reference.DepartmentInfo | None
    rule: reference.RuleInfo | None
    checked: list[dict]

    def to_dict(self, lang: str = "zh") -> dict:
        dept = self.department
        return {
            "category_code": self.category_code,
            "grid_code": self.grid.code if self.grid else None,
            "department": None if dept is None else {"id": dept.id, "code": dept.code, "name": dept.name},
            "rule_id": self.rule.id if self.rule else None,
            "checked": self.checked,
            "reason": self.sentence(lang),
        }

    def reason(self) -> dict:
        """Why this department, as data (a message key and its parameters): stored with a case
        and put into words for each reader (``reason_sentence``)."""
        if self.rule is None:
            return {"key": "suggestion_no_rule", "checked": [c["grid_code"] for c in self.checked]}
        return {"key": "suggestion_rule", "category": self.category_code, "grid": self.rule.grid_code,
                "department": self.department.name}

    def stored_reason(self) -> str:
        """``reason()`` as the text stored in ``Case.suggestion_reason`` (``reason_text`` reads it)."""
        return json.dumps(self.reason(), ensure_ascii=False, sort_keys=True)

    def sentence(self, lang: str | None = None) -> str:
        return reason_sentence(self.reason(), lang)


def reason_sentence(reason: dict, lang: str | None = None) -> str:
    """The explanation in ``lang`` (default: the reader's)."""
    if reason["key"] == "suggestion_no_rule":
        return t("suggestion_no_rule", lang=lang, checked=", ".join(reason["checked"]))
    grid = reason["grid"]
    scope = t("scope_everywhere", lang=lang) if grid == EVERYWHERE else t("scope_grid", lang=lang, grid=grid)
    return t("suggestion_rule", lang=lang, category=reason["category"], scope=scope,
             department=reason["department"])


def reason_text(stored: str | None, lang: str | None = None) -> str | None:
    """A case's stored ``suggestion_reason`` in the reader's language. A plain sentence (stored
    before the reason was kept as data) is returned as it is."""
    if not stored or not stored.startswith("{"):
        return stored
    try:
        reason = json.loads(stored)
        return reason_sentence(reason, lang)
    except (ValueError, KeyError, TypeError):
        return stored


def explain(session, category_code: str, grid: Grid | None, levels: list[Grid] | None = None) -> Explanation:
    """``levels``: the grid's chain when the caller has it already (saves the walk up). The
    catalog and the rules come from the process's reference cache (``grid.catalog.reference``):
    the explanation's ``department`` and ``rule`` are its frozen records, not ORM rows."""
    if reference.category(session, category_code) is None:
        raise NotFound("category", category_code)
    if levels is None:
        levels = chain(session, grid) if grid is not None else []
    candidates = [g.code for g in reversed(levels)] + [EVERYWHERE]
    rules = reference.rules_for(session, category_code, candidates)
    checked, chosen = [], None
    names = {g.code: (g.name, g.level) for g in levels}
    for code in candidates:
        rule = rules.get(code)
        name, level = names.get(code, (None, None))
        checked.append({"grid_code": code, "grid_name": name, "level": level,
                        "department_code": rule.department.code if rule else None,
                        "chosen": rule is not None and chosen is None})
        if rule is not None and chosen is None:
            chosen = rule
    return Explanation(category_code, grid, chosen.department if chosen else None, chosen, checked)


def set_rule(session, category_code: str, grid_code: str, department_code: str, note=None) -> Responsibility:
    _require_refs(session, category_code, grid_code, department_code)
    dept = session.scalar(select(Department).where(Department.code == department_code))
    if dept.kind in NOT_DISPATCHABLE:
        raise validation_error({"department_code": [not_dispatchable_message(dept.kind, department_code)]})
    rule = session.scalar(select(Responsibility).where(Responsibility.category_code == category_code,
                                                       Responsibility.grid_code == grid_code))
    if rule is None:
        rule = Responsibility(category_code=category_code, grid_code=grid_code)
        session.add(rule)
    rule.department_id, rule.note = dept.id, note
    rule.department = dept
    session.flush()
    return rule


def _require_refs(session, category_code, grid_code, department_code) -> None:
    if session.get(Category, category_code) is None:
        raise NotFound("category", category_code)
    if grid_code != EVERYWHERE:
        get_current(session, grid_code)
    if session.scalar(select(Department.id).where(Department.code == department_code)) is None:
        raise NotFound("department", department_code)


def import_csv(session, fp, *, replace: bool = False,
               progress: Callable[[int], None] | None = None) -> dict:
    """All rows checked first; any bad row means nothing is written."""
    reader = csv.DictReader(fp)
    missing = {"category_code", "grid_code", "department_code"} - set(reader.fieldnames or [])
    if missing:
        raise validation_error({"columns": [t("missing_columns", columns=", ".join(sorted(missing)))]})
    rows = list(reader)
    categories = set(session.scalars(select(Category.code)))
    grids = set(session.scalars(select(Grid.code).where(Grid.valid_to.is_(None)))) | {EVERYWHERE}
    depts = {d.code: d for d in session.scalars(select(Department))}
    errors, seen = [], {}
    for line, row in enumerate(rows, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        for column, known in (("category_code", categories), ("grid_code", grids), ("department_code", depts)):
            if row[column] not in known:
                errors.append({"line": line, "column": column, "value": row[column],
                               "message": t("not_found", what=t(column.removesuffix("_code")),
                                            key=row[column] or "''")})
        dept = depts.get(row["department_code"])
        if dept is not None and dept.kind in NOT_DISPATCHABLE:
            errors.append({"line": line, "column": "department_code", "value": row["department_code"],
                           "message": not_dispatchable_message(dept.kind, row["department_code"])})
        key = (row["category_code"], row["grid_code"])
        if key in seen:
            errors.append({"line": line, "column": "grid_code", "value": row["grid_code"],
                           "message": t("duplicate_line", line=seen[key])})
        seen.setdefault(key, line)
    if errors:
        raise ApiError("invalid_rows", status=422, count=len({e["line"] for e in errors}), details=errors)
    existing = {(r.category_code, r.grid_code): r for r in session.scalars(select(Responsibility))}
    created = updated = unchanged = 0
    for n, row in enumerate(rows, 1):
        key = (row["category_code"].strip(), row["grid_code"].strip())
        dept = depts[row["department_code"].strip()]
        note = (row.get("note") or "").strip() or None
        rule = existing.get(key)
        if rule is None:
            session.add(Responsibility(category_code=key[0], grid_code=key[1], department_id=dept.id, note=note))
            created += 1
        elif (rule.department_id, rule.note) != (dept.id, note):
            rule.department_id, rule.note = dept.id, note
            updated += 1
        else:
            unchanged += 1
        if progress and n % 500 == 0:
            progress(500)
    if progress:
        progress(len(rows) % 500)
    removed = 0
    if replace:
        stale = [r.id for k, r in existing.items() if k not in seen]
        if stale:
            removed = session.execute(delete(Responsibility).where(Responsibility.id.in_(stale))).rowcount
            reference.touched(session)
    session.flush()
    return {"created": created, "updated": updated, "unchanged": unchanged, "removed": removed}


def export_csv(session, fp) -> int:
    categories = {c.code: c.name_zh for c in session.scalars(select(Category))}
    grid_names = dict(session.execute(select(Grid.code, Grid.name).where(Grid.valid_to.is_(None))).all())
    writer = csv.DictWriter(fp, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    rules = session.scalars(select(Responsibility).order_by(Responsibility.category_code,
                                                             Responsibility.grid_code)).all()
    for r in rules:
        writer.writerow({"category_code": r.category_code, "grid_code": r.grid_code,
                         "department_code": r.department.code, "note": r.note or "",
                         "category_name": categories.get(r.category_code, ""),
                         "grid_name": grid_names.get(r.grid_code, "全域" if r.grid_code == EVERYWHERE else ""),
                         "department_name": r.department.name})
    return len(rules)
