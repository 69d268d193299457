"""Human-readable case numbers: area code + year + 6-digit sequence, e.g. 3101012026000123,
and tracking codes.

Numbers. On PostgreSQL each (area, year) has its own database sequence,
``case_seq_<area>_<year>``: ``nextval`` is not transactional, so it holds no lock until the
request commits and concurrent intakes never wait for each other (the former row lock on
``case_sequences`` serialised every intake in the city). A sequence is made on the first use
of its (area, year) in a short transaction on a separate connection, under an advisory lock
(two first uses at once: one creates, the other finds it), starting after any number already
used there (the cases' numbers and the old ``case_sequences`` row). Migration 0014 makes the
sequences of the existing ``case_sequences`` rows. A rolled-back intake leaves a gap: numbers
are identifiers, never counted (the indicators count rows).

On SQLite (the embedded default: one writer at a time) the ``case_sequences`` row is still
incremented in the request's transaction, which is as fast there.

Tracking codes: 10 characters from 32 (50 bits), with no query first; the unique index
decides. ``dispatch.intake.service.submit`` already makes the case inside a savepoint: on the
(rare: about one in 10^8 at ten million cases) unique violation of the tracking code it makes
the case again with a new code (``is_tracking_code_collision``; a new number too, the
first one is a gap), so a collision is never an error for the client. Chosen over answering
409 because the savepoint is there anyway (it costs nothing more) and not every channel sends
an idempotency key to retry with; only three taken codes in a row (never seen) give the 409
``conflict``."""
from __future__ import annotations

import re
import secrets

from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from dispatch.cases.models import CaseSequence

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone
CODE_LENGTH = 10
_AREA = re.compile(r"[0-9]{1,12}")  # ASCII: \d would take other scripts' digits
_LOCK_NAMESPACE = 0x57474E  # pg_advisory_xact_lock(namespace, key): "WGN", numbering


def sequence_name(area: str, year: int) -> str:
    """``case_seq_<area>_<year>``; the area is digits and the year a plain int, so the name
    can never carry SQL."""
    if not isinstance(area, str) or not _AREA.fullmatch(area):
        raise ValueError(f"an area code is 1 to 12 digits: {area!r}")
    if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
        raise ValueError(f"a year is 1 to 9999: {year!r}")
    return f"case_seq_{area}_{year}"


def format_number(area: str, year: int, n: int, width: int = 6) -> str:
    return f"{area}{year}{n:0{width}d}"


def next_number(session, area: str, year: int, width: int = 6) -> str:
    """The next number of this area and year (never the same twice, even across transactions
    rolled back)."""
    if session.get_bind().dialect.name == "postgresql":
        return format_number(area, year, _next_from_sequence(session, area, year), width)
    return format_number(area, year, _next_from_row(session, area, year), width)


def _next_from_sequence(session, area: str, year: int) -> int:
    name = sequence_name(area, year)
    # to_regclass: NULL (not an error that would abort the request's transaction) when absent
    query = text("SELECT nextval(to_regclass(:name))")
    n = session.execute(query, {"name": name}).scalar()
    if n is None:
        oid = create_sequence(session.get_bind().engine, area, year)
        # by its oid: a lookup by name in this transaction would still find the name missing
        # (PostgreSQL caches the miss until the transaction takes a new lock)
        n = session.execute(text("SELECT nextval(CAST(CAST(:oid AS oid) AS regclass))"), {"oid": oid}).scalar()
    return n


def create_sequence(engine, area: str, year: int) -> int:
    """Make the (area, year) sequence if it is missing, in a short transaction of its own,
    starting after the numbers already used (committed cases, the old counter row); its oid."""
    name = sequence_name(area, year)
    with engine.connect() as conn:
        with conn.begin():
            conn.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(:name))"),
                         {"ns": _LOCK_NAMESPACE, "name": name})
            if conn.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar() is None:
                start = used(conn, area, year) + 1
                conn.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {name} AS bigint START WITH {start}"))
        return conn.execute(text("SELECT CAST(to_regclass(:name) AS oid)"), {"name": name}).scalar()


def used(conn, area: str, year: int) -> int:
    """The highest number used in this area and year (0 if none): the old counter row and the
    cases whose number is this area, this year and six or more digits."""
    sequence_name(area, year)  # validated
    prefix = f"{area}{year}"
    row = conn.execute(text(
        "SELECT GREATEST("
        " (SELECT max(last) FROM case_sequences WHERE area = :area AND year = :year),"
        " (SELECT max(CAST(substring(number FROM :pattern) AS bigint)) FROM cases"
        "   WHERE number LIKE :like))"), {"area": area, "year": year, "pattern": f"^{prefix}(\\d{{6,18}})$",
                                          "like": f"{prefix}%"}).scalar()
    return int(row or 0)


def _next_from_row(session, area: str, year: int) -> int:
    """SQLite: increment the counter row in the request's transaction (one writer at a time)."""
    for _ in range(3):
        last = session.execute(update(CaseSequence).where(CaseSequence.area == area, CaseSequence.year == year)
                               .values(last=CaseSequence.last + 1).returning(CaseSequence.last)).scalar()
        if last is not None:
            return last
        try:
            with session.begin_nested():
                session.add(CaseSequence(area=area, year=year, last=1))
            return 1
        except IntegrityError:
            continue  # someone else created the row first; increment it
    raise RuntimeError("could not allocate a case number")


_SYSTEM_RANDOM = secrets.SystemRandom()  # os.urandom, as secrets.choice; one call for all characters


def tracking_code(session=None) -> str:
    """A new random code; no query: the unique index on ``cases.tracking_code`` decides
    (``is_tracking_code_collision``). ``session`` is accepted for the callers of old."""
    return "".join(_SYSTEM_RANDOM.choices(_ALPHABET, k=CODE_LENGTH))


def is_tracking_code_collision(exc: IntegrityError) -> bool:
    """Whether this unique violation is the tracking code's (PostgreSQL names the constraint
    ``uq_cases_tracking_code``, SQLite the column ``cases.tracking_code``)."""
    message = str(getattr(exc, "orig", exc))
    return "tracking_code" in message
