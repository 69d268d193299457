"""Run every Wangge benchmark and report which ones failed.

    python -m bench.run                 # all benchmarks (what `make bench` runs)
    python -m bench.run locate          # only the named ones
    python bench/run.py                 # same, without -m

Each benchmark is a module with ``main(argv=None) -> int`` that prints its own table
(ratios against a baseline measured in the same run) and writes ``bench/results/<name>.json``.
A benchmark fails when its main returns non-zero or raises (e.g. wrong answers, no
database). Each issue's goal is printed with its ratio and PASS/FAIL (``bench.goals``) and
listed again at the end; a FAIL there is not an error exit, because timings on shared
machines are noisy.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import goals  # noqa: E402
from bench.common import write_json  # noqa: E402

# name -> module with main(argv=None). Add new benchmarks here (e.g. "dispatch").
BENCHMARKS: dict[str, str] = {
    "locate": "bench.bench_locate",
    "dispatch": "bench.bench_dispatch",
    "mobile_inbox": "bench.bench_mobile_inbox",      # inbox first page and sync pull, 100k open cases
    "mobile_report": "bench.bench_mobile_report",    # phone report intake vs raw INSERT
    "patrol_ingest": "bench.bench_patrol_ingest",    # track points over HTTP vs COPY
    "kpi": "bench.bench_kpi",                        # every indicator, 30 days, 1M cases, from the roll-up
    "intake": "bench.bench_intake",                  # report intake vs the minimal app and pgbench (issue 10)
    "scale": "bench.bench_scale",                    # 1/2/4 web processes, 1/2 rq workers, CPU per side
    "lists": "bench.bench_lists",                    # case queue and Open311 pages at 1M cases, with EXPLAIN
    "map": "bench.bench_map",                        # console map data and page, 100k open cases
}


def run_one(name: str, module: str) -> int:
    try:
        code = importlib.import_module(module).main([])
    except SystemExit as exc:  # argparse errors and explicit exits
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception:
        traceback.print_exc()
        return 1
    return int(code or 0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.run", description="Run Wangge benchmarks.")
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")

    failed = []
    for name in args.names or list(BENCHMARKS):
        print(f"=== {name} ===", flush=True)
        start = time.perf_counter()
        code = run_one(name, BENCHMARKS[name])
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"=== {name}: {status} in {time.perf_counter() - start:.1f} s ===\n", flush=True)
        if code:
            failed.append(name)
    if goals.RECORDED:
        print("=== goals ===")
        for goal in goals.RECORDED:
            print(goal.line())
        write_json(Path(__file__).resolve().parent / "results" / "goals.json", {"goals": goals.as_json()})
    if failed:
        print(f"failed benchmarks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
