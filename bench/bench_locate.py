"""Point-in-grid lookup: in-process ``geo.index.GridIndex`` against PostGIS, same run.

Builds a lattice of square grids (default 100,000 cells of about 100 m near Shanghai),
loads it into a scratch PostGIS database shaped like our ``grids`` table (same columns,
same GiST index ``ix_grids_geom``), then answers the same random points four ways:

* in-process single: ``GridIndex.locate(lon, lat)`` once per point;
* in-process batch:  ``GridIndex.locate_many(lons, lats)`` for all points at once;
* PostGIS single:    one prepared ``ST_Contains`` query per point, one loopback connection;
* PostGIS batch:     one query, ``unnest`` of two arrays joined LATERAL with ``ST_Contains``.

Every timing is the median over ``--repeat`` rounds; in each round the four measurements
run back to back so machine noise hits them alike. Only ratios between numbers from the
same run mean anything. The answers are cross-checked; any disagreement on a point that
is not on a grid edge makes the benchmark exit non-zero.

Run:  python -m bench.bench_locate [--grids N] [--points N] [--repeat N] [--keep-db]
"""
from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import re
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # `python bench/bench_locate.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import psycopg
import shapely
from psycopg.conninfo import conninfo_to_dict

from bench import goals
from bench.common import (
    _ratio,
    _scratch_conninfo,
    add_database_options,
    create_database,
    drop_database,
    write_json,
)
from geo.codes import level_rank
from geo.index import GridIndex

NAME = "locate"
TARGET_RATIO = 30.0
RESULTS = Path(__file__).resolve().parent / "results" / "locate.json"

ORIGIN = (121.3, 31.1)  # lon, lat of the lattice's south-west corner (Shanghai)
SIDE = 0.001  # degrees; about 95 m x 111 m at this latitude
SEED = 20261122
OUTSIDE_FRACTION = 0.02
RETIRED_FRACTION = 0.01  # old versions (valid_to set) that the queries must skip
LEVEL = "grid"

# Mirrors the `grids` table of wangge/migrations/versions/0001_registry.py. Indexes are
# created after the load (same definitions as the migration), as a bulk import would.
DDL = """
CREATE TABLE grids (
    id integer NOT NULL,
    code varchar(64) NOT NULL,
    name varchar(200) NOT NULL,
    level varchar(16) NOT NULL,
    parent_code varchar(64),
    geom geometry(Geometry,4326) NOT NULL,
    area_m2 double precision NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    source varchar(255),
    CONSTRAINT pk_grids PRIMARY KEY (id),
    CONSTRAINT ck_grids_level CHECK (level IN ('district','street','community','grid'))
)
"""
INDEXES = (
    "CREATE INDEX ix_grids_code ON grids (code)",
    "CREATE INDEX ix_grids_parent_code ON grids (parent_code)",
    "CREATE UNIQUE INDEX uq_grids_current_code ON grids (code) WHERE valid_to IS NULL",
    "CREATE INDEX ix_grids_geom ON grids USING gist (geom)",
)

SINGLE_SQL = (
    "SELECT code FROM grids WHERE valid_to IS NULL"
    " AND ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s,%s),4326)) ORDER BY code LIMIT 1"
)
BATCH_SQL = """
SELECT g.code
FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS p(lon, lat, i)
LEFT JOIN LATERAL (
    SELECT code FROM grids
    WHERE valid_to IS NULL
      AND ST_Contains(geom, ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326))
    ORDER BY code LIMIT 1
) g ON true
ORDER BY p.i
"""


# ----------------------------------------------------------------------------- data


class Lattice:
    """`n` square cells, row-major from ORIGIN, ncols = ceil(sqrt(n)); codes G000000..."""

    def __init__(self, n: int, origin=ORIGIN, side=SIDE):
        self.n = n
        self.ncols = max(1, math.ceil(math.sqrt(n)))
        self.nrows = math.ceil(n / self.ncols)
        # Edges computed once so neighbours share bit-identical coordinates.
        self.xs = origin[0] + np.arange(self.ncols + 1) * side
        self.ys = origin[1] + np.arange(self.nrows + 1) * side
        idx = np.arange(n)
        self.row, self.col = idx // self.ncols, idx % self.ncols
        self.codes = [f"G{i:06d}" for i in range(n)]

    def polygons(self) -> np.ndarray:
        r, c = self.row, self.col
        return shapely.box(self.xs[c], self.ys[r], self.xs[c + 1], self.ys[r + 1])

    def parent_codes(self) -> list[str]:
        # 10 x 10 blocks of cells form a "community"; unused by the queries, realistic data.
        return [f"C{r // 10:03d}{c // 10:03d}" for r, c in zip(self.row.tolist(), self.col.tolist(), strict=False)]

    def areas_m2(self) -> np.ndarray:
        lat = (self.ys[self.row] + self.ys[self.row + 1]) / 2
        w = (self.xs[self.col + 1] - self.xs[self.col]) * 111_320.0 * np.cos(np.radians(lat))
        h = (self.ys[self.row + 1] - self.ys[self.row]) * 110_574.0
        return w * h

    def points(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`n` points: (1 - OUTSIDE_FRACTION) uniformly inside random cells, the rest
        around the lattice but outside its bounding box; shuffled."""
        n_out = round(n * OUTSIDE_FRACTION)
        n_in = n - n_out
        cell = rng.integers(0, self.n, n_in)
        r, c = self.row[cell], self.col[cell]
        u, v = rng.random(n_in), rng.random(n_in)
        lon_in = self.xs[c] + u * (self.xs[c + 1] - self.xs[c])
        lat_in = self.ys[r] + v * (self.ys[r + 1] - self.ys[r])
        x0, x1, y0, y1 = self.xs[0], self.xs[-1], self.ys[0], self.ys[-1]
        margin = max(x1 - x0, y1 - y0) * 0.1 + SIDE
        side = rng.integers(0, 4, n_out)  # 0 west, 1 east, 2 south, 3 north
        t = rng.random(n_out)
        d = SIDE / 10 + rng.random(n_out) * margin
        lon_out = np.where(side == 0, x0 - d, np.where(side == 1, x1 + d, x0 + t * (x1 - x0)))
        lat_out = np.where(side == 2, y0 - d, np.where(side == 3, y1 + d, y0 + t * (y1 - y0)))
        lons = np.concatenate([lon_in, lon_out])
        lats = np.concatenate([lat_in, lat_out])
        order = rng.permutation(n)
        return lons[order], lats[order]


# ----------------------------------------------------------------------------- database


def load(conn: psycopg.Connection, lattice: Lattice, rng: np.random.Generator) -> dict:
    """Create the table, COPY the grids in (EWKB hex), index, ANALYZE. Returns timings."""
    t = {}
    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.execute(DDL)
    conn.commit()

    start = time.perf_counter()
    polys = lattice.polygons()
    hexes = shapely.to_wkb(shapely.set_srid(polys, 4326), hex=True, include_srid=True)
    parents = lattice.parent_codes()
    areas = lattice.areas_m2().tolist()
    # Retired versions: an older geometry (shifted half a cell) of a few grids, closed by
    # valid_to. They overlap live cells, so `valid_to IS NULL` really has to filter them.
    n_old = round(lattice.n * RETIRED_FRACTION)
    old_idx = rng.choice(lattice.n, n_old, replace=False) if n_old else np.empty(0, dtype=int)
    old_hexes = shapely.to_wkb(
        shapely.set_srid(shapely.transform(polys[old_idx], lambda xy: xy + SIDE / 2), 4326),
        hex=True, include_srid=True,
    )
    t["generate_s"] = time.perf_counter() - start

    start = time.perf_counter()
    live_from = "2026-01-01 00:00:00+00"
    with conn.cursor() as cur, cur.copy(
        "COPY grids (id, code, name, level, parent_code, geom, area_m2, valid_from, valid_to)"
        " FROM STDIN"
    ) as copy:
        buf: list[str] = []
        for i, (code, parent, geom, area) in enumerate(zip(lattice.codes, parents, hexes, areas, strict=False)):
            buf.append(f"{i + 1}\t{code}\t网格 {code}\t{LEVEL}\t{parent}\t{geom}\t{area!r}\t"
                       f"{live_from}\t\\N\n")
            if len(buf) >= 5000:
                copy.write("".join(buf))
                buf.clear()
        for j, (i, geom) in enumerate(zip(old_idx.tolist(), old_hexes, strict=False)):
            code = lattice.codes[i]
            buf.append(f"{lattice.n + j + 1}\t{code}\t网格 {code}\t{LEVEL}\t{parents[i]}\t{geom}\t"
                       f"{areas[i]!r}\t2025-01-01 00:00:00+00\t{live_from}\n")
        copy.write("".join(buf))
    conn.commit()
    t["copy_s"] = time.perf_counter() - start

    start = time.perf_counter()
    for ddl in INDEXES:
        conn.execute(ddl)
    conn.commit()
    t["index_s"] = time.perf_counter() - start

    start = time.perf_counter()
    conn.autocommit = True
    try:
        conn.execute("VACUUM ANALYZE grids")
    finally:
        conn.autocommit = False
    t["analyze_s"] = time.perf_counter() - start
    t["rows_live"] = lattice.n
    t["rows_retired"] = n_old
    return t


def fetch_entries(conn: psycopg.Connection) -> list[tuple[str, object, int]]:
    """What grid.grids.locator._build does: current grids -> (code, geometry, rank)."""
    rows = conn.execute(
        "SELECT code, level, ST_AsBinary(geom) FROM grids WHERE valid_to IS NULL", binary=True
    ).fetchall()
    conn.commit()
    geoms = shapely.from_wkb([bytes(r[2]) for r in rows])
    return [(code, g, level_rank(level)) for (code, level, _), g in zip(rows, geoms.tolist(), strict=False)]


def plan_uses_gist(conn: psycopg.Connection, lon: float, lat: float) -> dict:
    out = {}
    for name, sql, params in (("single", SINGLE_SQL, (lon, lat)),
                              ("batch", BATCH_SQL, ([lon], [lat]))):
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, params).fetchall())
        out[name] = "ix_grids_geom" in plan
    conn.commit()
    return out


def server_facts(conn: psycopg.Connection) -> dict:
    full = conn.execute("SELECT postgis_full_version()").fetchone()[0]
    pg = conn.execute("SHOW server_version").fetchone()[0]
    conn.commit()
    parts = []
    for key in ("POSTGIS", "GEOS", "PROJ"):
        m = re.search(rf'\b{key}="([^"\s]+)', full)
        if m:
            parts.append(f"{key}={m.group(1)}")
    return {"postgresql": pg.split()[0], "postgis": " ".join(parts) or full[:80],
            "postgis_full": full}


# ----------------------------------------------------------------------------- timing


def _timed(fn):
    gc.collect()
    start = time.perf_counter_ns()
    result = fn()
    return (time.perf_counter_ns() - start) / 1e3, result  # µs


def run_inproc_single(index: GridIndex, lons: list[float], lats: list[float]):
    locate = index.locate
    return [locate(x, y) for x, y in zip(lons, lats, strict=False)]


def run_inproc_batch(index: GridIndex, lons: list[float], lats: list[float]):
    return index.locate_many(lons, lats)


def run_pg_single(conn: psycopg.Connection, lons: list[float], lats: list[float]):
    out = []
    with conn.cursor() as cur:
        execute, fetchone = cur.execute, cur.fetchone
        for x, y in zip(lons, lats, strict=False):
            execute(SINGLE_SQL, (x, y), prepare=True)
            row = fetchone()
            out.append(row[0] if row else None)
    return out


def run_pg_batch(conn: psycopg.Connection, lons: list[float], lats: list[float]):
    with conn.cursor() as cur:
        cur.execute(BATCH_SQL, (lons, lats))
        return [r[0] for r in cur.fetchall()]


# ----------------------------------------------------------------------------- report


def _fmt_s(seconds: float) -> str:
    return f"{seconds:7.2f} s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench.bench_locate", description=__doc__.splitlines()[0])
    ap.add_argument("--grids", type=int, default=100_000, help="number of current grids")
    ap.add_argument("--points", type=int, default=20_000, help="number of query points")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the median is reported")
    add_database_options(ap, RESULTS)
    args = ap.parse_args(argv)
    if args.grids < 1 or args.points < 1 or args.repeat < 1:
        ap.error("--grids, --points and --repeat must be positive")

    rng = np.random.default_rng(SEED)
    lattice = Lattice(args.grids)
    lons_arr, lats_arr = lattice.points(args.points, rng)
    lons, lats = lons_arr.tolist(), lats_arr.tolist()

    dbname = f"wangge_bench_{secrets.token_hex(4)}"
    admin_db = conninfo_to_dict(args.pg_admin_url).get("dbname", "?")
    create_database(args.pg_admin_url, dbname)
    try:
        with psycopg.connect(_scratch_conninfo(args.pg_admin_url, dbname)) as conn:
            setup = load(conn, lattice, rng)
            facts = server_facts(conn)

            start = time.perf_counter()
            entries = fetch_entries(conn)
            setup["fetch_s"] = time.perf_counter() - start
            start = time.perf_counter()
            index = GridIndex(entries)
            setup["build_s"] = time.perf_counter() - start
            del entries

            gist = plan_uses_gist(conn, lons[0], lats[0])

            # Cold: the first pass over the points on a fresh index fills GridIndex's
            # per-bucket memo; reported on its own. A long-running process is warm.
            cold_us, _ = _timed(lambda: run_inproc_single(index, lons, lats))
            cold_single = cold_us / len(lons)

            # Warm-up: prepares the statement server-side, warms caches and the tree.
            warm = min(500, len(lons))
            run_inproc_single(index, lons[:warm], lats[:warm])
            run_inproc_batch(index, lons[:warm], lats[:warm])
            run_pg_single(conn, lons[:warm], lats[:warm])
            run_pg_batch(conn, lons[:warm], lats[:warm])
            conn.commit()

            measures = {
                "inproc_single": lambda: run_inproc_single(index, lons, lats),
                "inproc_batch": lambda: run_inproc_batch(index, lons, lats),
                "pg_single": lambda: run_pg_single(conn, lons, lats),
                "pg_batch": lambda: run_pg_batch(conn, lons, lats),
            }
            runs: dict[str, list[float]] = {k: [] for k in measures}
            answers: dict[str, list] = {}
            for _ in range(args.repeat):
                for key, fn in measures.items():
                    us, result = _timed(fn)
                    runs[key].append(us / len(lons))
                    answers[key] = result
                conn.commit()
            conn.rollback()
    finally:
        if not args.keep_db:
            drop_database(args.pg_admin_url, dbname)

    per_point = {k: statistics.median(v) for k, v in runs.items()}

    # --- correctness: single vs batch everywhere; in-process vs PostGIS off edges.
    # GridIndex counts the boundary (covers), ST_Contains does not, so a point exactly
    # on an edge may legitimately differ; random floats practically never are.
    single, batch = answers["inproc_single"], answers["inproc_batch"]
    by_key = {k: i for i, k in enumerate(lattice.codes)}
    polys = lattice.polygons()
    hit = np.array([by_key[k] if k is not None else -1 for k in single])
    on_edge = np.zeros(len(lons), dtype=bool)
    found = hit >= 0
    on_edge[found] = shapely.touches(polys[hit[found]], shapely.points(lons_arr[found], lats_arr[found]))
    mismatch_batch = sum(a != b for a, b in zip(single, batch, strict=False))
    mismatch_pg_single = sum(a != b for a, b, e in zip(single, answers["pg_single"], on_edge, strict=False) if not e)
    mismatch_pg_batch = sum(a != b for a, b, e in zip(single, answers["pg_batch"], on_edge, strict=False) if not e)
    disagreements = mismatch_batch + mismatch_pg_single + mismatch_pg_batch
    outside = sum(a is None for a in single)

    r_single = _ratio(per_point["pg_single"], per_point["inproc_single"])
    r_batch = _ratio(per_point["pg_batch"], per_point["inproc_batch"])
    verdict = "PASS" if r_single >= TARGET_RATIO else "FAIL"

    machine = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "shapely": shapely.__version__,
        "geos": shapely.geos_version_string,
        "numpy": np.__version__,
        "psycopg": f"{psycopg.__version__} ({psycopg.pq.__impl__})",
        **{k: facts[k] for k in ("postgresql", "postgis")},
    }

    # --- report
    p = print
    p(f"locate benchmark: {lattice.n:,} grids ({lattice.nrows}x{lattice.ncols} lattice of "
      f"{SIDE} deg at {ORIGIN[0]},{ORIGIN[1]}; +{setup['rows_retired']:,} retired versions), "
      f"{len(lons):,} points ({round(len(lons) * OUTSIDE_FRACTION):,} outside), "
      f"median of {args.repeat}")
    p(f"machine: {machine['cpu_count']} CPUs, Python {machine['python']}, shapely "
      f"{machine['shapely']} (GEOS {machine['geos']}), psycopg {machine['psycopg']}, "
      f"PostgreSQL {machine['postgresql']}, {machine['postgis']}")
    p(f"database: {dbname} (via {admin_db}; {'kept' if args.keep_db else 'dropped'}), "
      f"GiST ix_grids_geom in plan: single={'yes' if gist['single'] else 'NO'}, "
      f"batch={'yes' if gist['batch'] else 'NO'}")
    p("")
    p("setup")
    p(f"  generate + encode grids   {_fmt_s(setup['generate_s'])}")
    p(f"  COPY into PostGIS         {_fmt_s(setup['copy_s'])}")
    p(f"  create indexes (GiST)     {_fmt_s(setup['index_s'])}")
    p(f"  VACUUM ANALYZE            {_fmt_s(setup['analyze_s'])}")
    p(f"  fetch current geometries  {_fmt_s(setup['fetch_s'])}")
    p(f"  GridIndex build           {_fmt_s(setup['build_s'])}")
    p("")
    labels = {
        "inproc_single": "in-process single  GridIndex.locate",
        "inproc_batch": "in-process batch   GridIndex.locate_many",
        "pg_single": "PostGIS single     prepared ST_Contains",
        "pg_batch": "PostGIS batch      unnest + LATERAL",
    }
    p(f"  {'measurement':<42}{'µs/point':>10}   runs (µs/point)")
    for key, label in labels.items():
        rs = ", ".join(f"{x:.2f}" for x in runs[key])
        p(f"  {label:<42}{per_point[key]:>10.2f}   [{rs}]")
    p("")
    p("ratios (same run, higher = in-process faster)")
    p(f"  PostGIS single / in-process single  {r_single:8.1f}x")
    p(f"  PostGIS batch  / in-process batch   {r_batch:8.1f}x")
    p(f"  PostGIS single / in-process cold    {_ratio(per_point['pg_single'], cold_single):8.1f}x   "
      f"(first pass on a fresh index: {cold_single:.2f} µs/point while its bucket memo fills)")
    p("")
    p(f"correctness: {len(lons):,} points, {outside:,} outside every grid, "
      f"{int(on_edge.sum())} on an edge (excluded from the PostGIS comparison); "
      f"disagreements: {disagreements} (single vs batch {mismatch_batch}, "
      f"vs PostGIS single {mismatch_pg_single}, vs PostGIS batch {mismatch_pg_batch})"
      f" -> {'OK' if disagreements == 0 else 'FAIL'}")
    goals.report(NAME, "point -> grid in process vs an indexed PostGIS query",
                 f"{per_point['inproc_single']:.2f} µs vs {per_point['pg_single']:.2f} µs per point",
                 passed=r_single >= TARGET_RATIO, ratio=r_single, target=f">= {TARGET_RATIO:g}x")

    result = {
        "benchmark": NAME,
        "inproc_single_cold_us": cold_single,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "params": {"grids": lattice.n, "points": len(lons), "repeat": args.repeat,
                   "origin": list(ORIGIN), "side_deg": SIDE, "seed": SEED,
                   "outside_fraction": OUTSIDE_FRACTION, "retired_rows": setup["rows_retired"]},
        "machine": {**machine, "postgis_full": facts["postgis_full"]},
        "setup_s": {k: v for k, v in setup.items() if k.endswith("_s")},
        "us_per_point": per_point,
        "runs_us_per_point": runs,
        "ratios": {"pg_single_over_inproc_single": r_single,
                   "pg_batch_over_inproc_batch": r_batch},
        "target": {"pg_single_over_inproc_single": TARGET_RATIO, "verdict": verdict},
        "gist_in_plan": gist,
        "correctness": {"points": len(lons), "outside": outside, "on_edge": int(on_edge.sum()),
                        "single_vs_batch": mismatch_batch,
                        "inproc_vs_pg_single": mismatch_pg_single,
                        "inproc_vs_pg_batch": mismatch_pg_batch,
                        "disagreements": disagreements},
    }
    write_json(args.output, result)
    try:
        shown = args.output.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        shown = args.output
    p(f"results written to {shown}")

    if disagreements:
        return 1
    if not (gist["single"] and gist["batch"]):
        print("error: the PostGIS plan does not use ix_grids_geom; the baseline is not the "
              "indexed query the target is about", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
