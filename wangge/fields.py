"""Marshmallow fields with the bounds the database and the calendar arithmetic can handle.

* :class:`Id` - a database id: an integer from 1 to 2**31-1 (PostgreSQL ``integer``).
* :class:`BoundedInt` - an integer (``offset``, ``page``, ``sort``...) within the same range
  unless narrower bounds are given.
* :class:`Date`, :class:`DateTime`, :class:`AwareDateTime` - years :data:`MIN_YEAR` to
  :data:`MAX_YEAR` only. Year 1 or 9999 is never a real report or deadline, and arithmetic
  on it overflows Python's datetime or PostgreSQL's ``timestamptz`` range.

Each bound is documented in the OpenAPI document (``minimum``/``maximum``) and a value
outside it is a 422 naming the field.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from marshmallow import ValidationError, fields

from .i18n import t

MAX_DB_INT = 2**31 - 1
MIN_YEAR = 1970
MAX_YEAR = 2200


class BoundedInt(fields.Integer):
    """An integer within ``min_value``..``max_value`` (default 0..2**31-1)."""

    def __init__(self, *, min_value: int = 0, max_value: int = MAX_DB_INT, **kwargs):
        self.min_value, self.max_value = min_value, max_value
        metadata = {"minimum": min_value, "maximum": max_value, **kwargs.pop("metadata", {})}
        super().__init__(strict=False, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        number = super()._deserialize(value, attr, data, **kwargs)
        if not self.min_value <= number <= self.max_value:
            raise ValidationError(self._range_message())
        return number

    def _range_message(self) -> str:
        return t("integer_out_of_range", min=self.min_value, max=self.max_value)


class Id(BoundedInt):
    """A database id: 1..2**31-1."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, **kwargs)

    def _range_message(self) -> str:
        return t("id_out_of_range", max=self.max_value)


def _check_year(value: date) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationError(t("year_out_of_range", min=MIN_YEAR, max=MAX_YEAR))


def _year_metadata(kwargs: dict, example: str) -> dict:
    note = f"Years {MIN_YEAR}..{MAX_YEAR}."
    metadata = dict(kwargs.pop("metadata", {}))
    metadata.setdefault("description", note)
    metadata.setdefault("example", example)
    return metadata


class Date(fields.Date):
    def __init__(self, **kwargs):
        super().__init__(metadata=_year_metadata(kwargs, "2025-01-06"), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        result = super()._deserialize(value, attr, data, **kwargs)
        _check_year(result)
        return result


class DateTime(fields.DateTime):
    def __init__(self, **kwargs):
        super().__init__(metadata=_year_metadata(kwargs, "2025-01-06T09:00:00+08:00"), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        result = super()._deserialize(value, attr, data, **kwargs)
        _check_year(result)
        return result


# How far a phone's or a desk PC's clock may run ahead of the server's.
CLOCK_SKEW = timedelta(minutes=5)


class AwareDateTime(fields.AwareDateTime):
    """A moment with its offset; the year bound holds in UTC (where it is stored).
    ``past=True``: not later than now (a report is not made in the future)."""

    def __init__(self, *, past: bool = False, **kwargs):
        self.past = past
        super().__init__(metadata=_year_metadata(kwargs, "2025-01-06T09:00:00+08:00"), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        result = super()._deserialize(value, attr, data, **kwargs)
        _check_year(result)
        try:
            in_utc = result.astimezone(UTC)
        except OverflowError:
            raise ValidationError(t("year_out_of_range", min=MIN_YEAR, max=MAX_YEAR)) from None
        _check_year(in_utc)
        if self.past and in_utc > datetime.now(UTC) + CLOCK_SKEW:
            raise ValidationError(t("in_the_future"))
        return result
