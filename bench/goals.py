"""The goals of the issues, each printed by its benchmark as one line with its figure, the ratio
against the baseline measured in the same run, the target and PASS/FAIL; ``bench.run`` prints
them all again as one table at the end and writes ``bench/results/goals.json``.

A goal that FAILs is printed, not an error: timings on a shared 2-core machine are noisy, and
the table is what a reader compares with ``bench/README.md``. Wrong answers are errors.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

RECORDED: list[Goal] = []


@dataclass
class Goal:
    bench: str
    goal: str
    figure: str
    ratio: float | None
    target: str
    passed: bool

    def line(self) -> str:
        ratio = "" if self.ratio is None else f"  ratio {self.ratio:.3g}"
        return f"GOAL {self.bench}: {self.goal}: {self.figure}{ratio}  target {self.target}  " \
               f"{'PASS' if self.passed else 'FAIL'}"


def report(bench: str, goal: str, figure: str, *, passed: bool, target: str, ratio: float | None = None) -> Goal:
    """Print one goal's line now and keep it for the summary."""
    recorded = Goal(bench, goal, figure, ratio, target, bool(passed))
    RECORDED.append(recorded)
    print(recorded.line(), flush=True)
    return recorded


def as_json() -> list[dict]:
    return [asdict(g) for g in RECORDED]
