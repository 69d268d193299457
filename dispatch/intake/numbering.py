"""Human-readable case numbers: area code + year + 6-digit sequence, e.g. 3101012026000123."""
from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from dispatch.cases.models import Case, CaseSequence

_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone


def next_number(session, area: str, year: int, width: int = 6) -> str:
    """Row-locked increment, so concurrent intakes never share a number."""
    for _ in range(3):
        last = session.execute(update(CaseSequence).where(CaseSequence.area == area, CaseSequence.year == year)
                               .values(last=CaseSequence.last + 1).returning(CaseSequence.last)).scalar()
        if last is not None:
            return f"{area}{year}{last:0{width}d}"
        try:
            with session.begin_nested():
                session.add(CaseSequence(area=area, year=year, last=1))
            return f"{area}{year}{1:0{width}d}"
        except IntegrityError:
            continue  # someone else created the row first; increment it
    raise RuntimeError("could not allocate a case number")


def tracking_code(session) -> str:

    while True:
        code = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        if session.scalar(select(Case.id).where(Case.tracking_code == code)) is None:
            return code
