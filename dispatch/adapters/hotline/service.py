"""12345 hotline orders (12345 热线工单): bulk import from CSV or XLSX into the case model.

A file is read into rows (CSV in UTF-8 with or without BOM, or GBK; XLSX: the first sheet),
every row is checked before anything is written, and each good row goes through the same
intake as every other channel (``dispatch.intake.service.submit``) with channel ``hotline``, the
order number as ``external_id`` and ``hotline:<order number>`` as the idempotency key, so
importing the same file again creates nothing new. See docs/hotline.md for the columns.
"""
from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from openpyxl.utils.datetime import from_excel
from sqlalchemy import select

from dispatch.cases.lifecycle import CITIZEN
from dispatch.cases.models import Case
from dispatch.intake import rules
from dispatch.intake import service as intake
from geo.crs import parse_crs
from grid.models import Category
from wangge.config import current_settings
from wangge.errors import ApiError, validation_error
from wangge.i18n import t
from wangge.timeutil import utcnow

CHANNEL = "hotline"
SENDER = "hotline"
KEY_PREFIX = SENDER + ":"  # stored keys of this channel (intake.stored_key)

# canonical column -> accepted headers (compared after strip + lower-case; Chinese headers as
# the common 12345 platform exports spell them).
COLUMNS: dict[str, tuple[str, ...]] = {
    "order_no": ("order_no", "order_number", "工单编号", "工单号", "热线工单号"),
    "received_at": ("received_at", "受理时间", "来电时间", "登记时间"),
    "caller_name": ("caller_name", "来电人", "来电人姓名", "诉求人", "姓名"),
    "phone": ("phone", "来电号码", "联系电话", "联系方式"),
    "content": ("content", "诉求内容", "工单内容", "内容"),
    "address": ("address", "地址", "事发地址", "事发地点"),
    "lon": ("lon", "lng", "longitude", "经度"),
    "lat": ("lat", "latitude", "纬度"),
    "crs": ("crs", "坐标系"),
    "category_code": ("category_code", "类别编码", "问题类别编码"),
    "type": ("type", "诉求类型", "工单类型", "类型"),
}
REQUIRED = ("order_no", "received_at", "content")  # columns a file must have
MAX_FILE_BYTES = 50 * 1024 * 1024

_ALIAS = {alias.lower(): name for name, aliases in COLUMNS.items() for alias in aliases}

# Where a rule's field (dispatch.intake.rules) comes from in a row: the adapter only renames.
COLUMN_OF = {"description": "content", "external_id": "order_no", "idempotency_key": "order_no",
             "reported_at": "received_at", "reporter_name": "caller_name", "reporter_phone": "phone",
             "address": "address", "lon": "lon", "lat": "lat", "crs": "crs", "category_code": "category_code"}



class HotlineFileError(ValueError):
    """The file cannot be read at all (not CSV/XLSX, wrong encoding, no header)."""


# --- reading ---------------------------------------------------------------------------

@dataclass
class Table:
    headers: dict[str, str]            # canonical column -> header as written in the file
    rows: list[tuple[int, dict]]       # (line or sheet row number, canonical column -> raw value)
    ignored: list[str] = field(default_factory=list)  # headers we do not know


def read_file(path: str | Path) -> Table:
    path = Path(path)
    return read_bytes(path.read_bytes(), path.name)


def read_bytes(data: bytes, filename: str = "") -> Table:
    """CSV or XLSX, decided by the content (a ZIP is XLSX) and then the file name."""
    name = (filename or "").lower()
    if data[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or name.endswith(".xls"):
        raise HotlineFileError("old Excel .xls is not supported; save the sheet as .xlsx or CSV")
    return _read_csv(data)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # a superset of GBK (Excel's "CSV" on Chinese Windows)
    except UnicodeDecodeError:
        raise HotlineFileError("CSV must be UTF-8 (with or without BOM) or GBK") from None


def _read_csv(data: bytes) -> Table:
    text = _decode(data)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header:
            raise HotlineFileError("the file is empty")
        records: list[tuple[int, list]] = []
        last = reader.line_num
        for record in reader:
            records.append((last + 1, record))  # the line the record starts on
            last = reader.line_num
    except csv.Error as exc:
        raise HotlineFileError(f"CSV line {reader.line_num}: {exc}") from None
    return _table(header, records)


def _read_xlsx(data: bytes) -> Table:

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise HotlineFileError(f"not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})") from None
    try:
        if not book.worksheets:
            raise HotlineFileError("the workbook has no sheet")
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if not header:
            raise HotlineFileError("the first sheet is empty")
        records = [(n, list(r)) for n, r in enumerate(rows, start=2)]
    finally:
        book.close()
    return _table([("" if h is None else str(h)) for h in header], records)


def _table(header: list, records: list[tuple[int, list]]) -> Table:
    headers: dict[str, str] = {}
    positions: dict[str, int] = {}
    ignored = []
    for i, raw in enumerate(header):
        title = str(raw or "").replace("\ufeff", "").strip()
        name = _ALIAS.get(title.lower())
        if name is None or name in positions:
            if title:
                ignored.append(title)
            continue
        headers[name], positions[name] = title, i
    missing = [c for c in REQUIRED if c not in headers]
    if missing:
        raise validation_error({"columns": [
            f"missing column(s): {', '.join(missing)} (headers found: {', '.join(str(h) for h in header if h)})"]})
    if "address" not in headers and not {"lon", "lat"} <= set(headers):
        raise validation_error({"columns": ["give an address column, or lon and lat columns"]})
    rows = []
    for line, record in records:
        values = {name: (record[i] if i < len(record) else None) for name, i in positions.items()}
        if all(_blank(v) for v in record):
            continue  # trailing empty lines, spacer rows in a sheet
        rows.append((line, values))
    return Table(headers, rows, ignored)


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- checking --------------------------------------------------------------------------

@dataclass
class Order:
    line: int
    order_no: str
    submission: intake.Submission | None  # None: imported before


def _text(value) -> str:
    """A cell as text: Excel turns order and phone numbers into numbers (13900000000.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y%m%d%H%M%S", "%Y%m%d %H:%M:%S")
_CN_DATE = re.compile(r"^\s*(\d{4})年(\d{1,2})月(\d{1,2})日\s*(.*)$")


def parse_time(value, zone: str) -> datetime:
    """An aware datetime; naive values (and Excel dates) are in ``zone``."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, int | float) and not isinstance(value, bool) and 20000 < value < 80000:

        parsed = from_excel(value)
    else:
        text = _text(value)
        m = _CN_DATE.match(text)
        if m:
            y, mo, d, rest = m.groups()
            text = f"{y}-{int(mo):02d}-{int(d):02d} {rest.replace('时', ':').replace('分', ':').rstrip(':秒')}".strip()
        text = text.replace("/", "-")
        # one-digit month/day/hour as typed by hand: 2026-3-1 8:05
        text = re.sub(r"^(\d{4})-(\d{1,2})-(\d{1,2})", lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", text)
        text = re.sub(r"([ T])(\d):", r"\g<1>0\2:", text)
        parsed = None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            for fmt in _TIME_FORMATS:
                try:
                    parsed = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if parsed is None:
            raise ValueError(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    return parsed


def _number(value) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        number = float(_text(value).replace("，", "").replace(" ", ""))
    if math.isnan(number) or math.isinf(number):
        raise ValueError(value)
    return number


def check_rows(session, table: Table, *, crs: str | None = None) -> tuple[list[Order], list[dict]]:
    """Every row, every column: the orders that can be imported and a list of problems
    ``{line, column, header, value, message}`` (empty when all rows are good).

    Reading a cell (a time, a number, which coordinate system) is this adapter's; whether the
    order is a valid report is ``dispatch.intake.rules``, whose field problems become
    column problems here (:data:`COLUMN_OF`)."""
    zone = current_settings().timezone
    now = utcnow()
    categories = {c.code: c for c in session.scalars(select(Category))}
    default_crs = None
    if crs:
        default_crs = parse_crs(crs)  # the caller validated the option
    orders: list[Order] = []
    problems: list[dict] = []
    seen: dict[str, int] = {}
    numbers = [_text(raw.get("order_no")) for _, raw in table.rows]
    imported = set()
    for start in range(0, len(numbers), 1000):
        keys = [KEY_PREFIX + n for n in numbers[start:start + 1000] if n]
        imported |= {k[len(KEY_PREFIX):] for k in session.scalars(
            select(Case.idempotency_key).where(Case.idempotency_key.in_(keys)))}

    for line, raw in table.rows:
        errors: list[dict] = []

        def bad(column, message, _line=line, _raw=raw, _errors=errors):
            if any(e["column"] == column and e["message"] == message for e in _errors):
                return
            _errors.append({"line": _line, "column": column, "header": table.headers.get(column, column),
                            "value": _text(_raw.get(column)), "message": message})

        text = {k: _text(v) for k, v in raw.items()}
        if text.get("order_no") in imported and text["order_no"] not in seen:
            # imported before (by an earlier run of this file): nothing to check, nothing to write
            seen[text["order_no"]] = line
            orders.append(Order(line, text["order_no"], None))
            continue
        for column, value in text.items():
            if value and rules.has_bad_characters(value):
                bad(column, t("submission_bad_characters"))
        order_no = text.get("order_no") or ""
        if order_no:
            if order_no in seen:
                bad("order_no", t("hotline_duplicate", line=seen[order_no]))
            else:
                seen[order_no] = line

        received_at = None
        if text.get("received_at"):
            try:
                received_at = parse_time(raw["received_at"], zone)
            except (ValueError, OverflowError):
                bad("received_at", t("hotline_bad_time"))

        point = {}
        for column in ("lon", "lat"):
            if text.get(column):
                try:
                    point[column] = _number(raw[column])
                except (ValueError, TypeError):
                    bad(column, t("hotline_not_number"))
        if text.get("lon") and text.get("lat") and default_crs is None and not text.get("crs"):
            bad("crs", t("hotline_need_crs"))

        content, kind = text.get("content") or "", text.get("type")
        sub = intake.Submission(
            channel=CHANNEL, description=f"【{kind}】{content}" if kind and content else content,
            lon=point.get("lon"), lat=point.get("lat"), crs=text.get("crs") or default_crs or "wgs84",
            address=text.get("address") or None, category_code=text.get("category_code") or None,
            reporter_name=text.get("caller_name") or None, reporter_phone=text.get("phone") or None,
            idempotency_key=order_no or None, sender=SENDER, external_id=order_no or None, reported_at=received_at)
        unread = {e["column"] for e in errors}  # columns this adapter could not read: no rule asks them
        refused = {name for name, column in COLUMN_OF.items() if column in unread}
        found = rules.check(sub, category=categories.get, now=now, skip=refused,
                            require=rules.CHANNEL_REQUIRES[CHANNEL])
        for name, field_problems in found.items():
            for problem in field_problems:
                bad(COLUMN_OF.get(name, name), problem.message())

        if errors:
            problems.extend(errors)
            continue
        orders.append(Order(line, order_no, sub))
    return orders, problems


# --- importing -------------------------------------------------------------------------

@dataclass
class ImportResult:
    created: list[dict] = field(default_factory=list)
    existing: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)   # the problems of the skipped rows
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def skipped_lines(self) -> list[int]:
        return sorted({p["line"] for p in self.skipped})

    def to_dict(self) -> dict:
        return {"created": len(self.created), "already_imported": len(self.existing),
                "skipped": len(self.skipped_lines), "cases": self.created, "existing_cases": self.existing,
                "skipped_rows": self.skipped, "ignored_columns": self.ignored_columns}

    def summary(self) -> str:
        return (f"created {len(self.created)}, already imported {len(self.existing)}, "
                f"skipped {len(self.skipped_lines)}")


def import_table(session, table: Table, *, crs: str | None = None, skip_invalid: bool = False,
                 progress: Callable[[int], None] | None = None) -> ImportResult:
    """Check every row; any problem writes nothing (``invalid_rows``, 422) unless
    ``skip_invalid``. The caller commits."""
    if crs:
        try:
            crs = parse_crs(crs)
        except ValueError:
            raise validation_error({"crs": [t("submission_bad_crs", value=crs[:20], choices=", ".join(rules.CRS_CHOICES))]}) from None
    orders, problems = check_rows(session, table, crs=crs)
    if problems and not skip_invalid:
        raise ApiError("invalid_rows", status=422, count=len({p["line"] for p in problems}), details=problems)
    result = ImportResult(skipped=problems, ignored_columns=table.ignored)
    if progress and problems:
        progress(len({p["line"] for p in problems}))
    for order in orders:
        if order.submission is None:
            case, created = session.scalar(select(Case).where(
                Case.idempotency_key == KEY_PREFIX + order.order_no)), False
        else:
            case, created = intake.submit(session, order.submission, reporter=None, role=CITIZEN)
        entry = {"line": order.line, "order_no": order.order_no, "number": case.number}
        (result.created if created else result.existing).append(entry)
        if progress:
            progress(1)
    return result

