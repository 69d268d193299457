"""Grid levels and grid code rules (see docs/domain.md §5).

National rule: 6-digit county code (GB/T 2260) + 3-digit street + 3-digit community +
a grid sequence of 2 or 3 digits depending on the local standard (configurable).
Free rule: deployments that use their own codes; only basic hygiene is enforced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LEVELS = ("district", "street", "community", "grid")

_NATIONAL_LENGTHS = {"district": 6, "street": 9, "community": 12}
_FREE_MAX_LEN = 64
# Any whitespace (incl. Unicode spaces) or C0/C1 control character.
_FREE_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def level_rank(level: str) -> int:
    """0 for district ... 3 for grid; ValueError for anything else."""
    try:
        return LEVELS.index(level)
    except ValueError:
        raise ValueError(
            f"unknown grid level {level!r}; expected one of {', '.join(LEVELS)}"
        ) from None


@dataclass(frozen=True)
class CodeRule:
    mode: str = "free"  # "free" | "national"
    grid_seq_digits: tuple[int, ...] = (2, 3)

    def __post_init__(self):
        if self.mode not in ("free", "national"):
            raise ValueError(f"unknown code rule mode {self.mode!r}; expected 'free' or 'national'")
        digits = tuple(int(d) for d in self.grid_seq_digits)  # accept lists from config
        if not digits or any(d < 1 for d in digits):
            raise ValueError(
                f"grid_seq_digits must be positive integers, got {self.grid_seq_digits!r}"
            )
        object.__setattr__(self, "grid_seq_digits", digits)

    def national_lengths(self, level: str | None) -> set[int]:
        """Allowed code lengths for a level (all levels' lengths when level is None)."""
        grid = {12 + d for d in self.grid_seq_digits}
        if level is None:
            return set(_NATIONAL_LENGTHS.values()) | grid
        level_rank(level)
        return grid if level == "grid" else {_NATIONAL_LENGTHS[level]}


def check_code(
    code: str | None, level: str | None, parent_code: str | None, rule: CodeRule
) -> str | None:
    """Return a machine reason ("bad_code_shape", "code_not_under_parent") or None if fine.

    Raises ValueError for an unknown level (callers report that as "unknown_level").
    With level None the national rule accepts the length of any level.
    """
    if level is not None:
        level_rank(level)
    if not code:
        return "bad_code_shape"
    if rule.mode == "free":
        if len(code) > _FREE_MAX_LEN or _FREE_BAD_CHARS.search(code):
            return "bad_code_shape"
        return None
    # str.isdigit() accepts e.g. superscripts and full-width digits; require ASCII.
    if not (code.isascii() and code.isdigit()) or len(code) not in rule.national_lengths(level):
        return "bad_code_shape"
    if parent_code and (len(code) <= len(parent_code) or not code.startswith(parent_code)):
        return "code_not_under_parent"
    return None
