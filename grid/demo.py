"""A believable demo city: one district, 4 streets, 12 communities, 300 unit grids,
departments, staff for every role, the default catalog and a responsibility matrix.

Geometry is laid out as rectangles over central Shanghai (WGS-84); names and codes follow
the national pattern (district 310101 + street + community + 2-digit grid number)."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from shapely.geometry import box
from sqlalchemy import select

from geo.io import GridFeature
from grid.accounts.service import hash_password
from grid.catalog.service import load_catalog
from grid.grids.service import import_features
from grid.models import (
    EVERYWHERE,
    Category,
    Department,
    GridAssignment,
    Responsibility,
    Staff,
    StaffRole,
)
from wangge.extensions import db

DEMO_PASSWORD = "wangge-demo"
DISTRICT = ("310101", "示范区")
STREETS = [("310101002", "南京东路街道"), ("310101013", "外滩街道"),
           ("310101015", "半淞园路街道"), ("310101017", "小东门街道")]
COMMUNITY_NAMES = ["东", "西", "中"]
ORIGIN = (121.470, 31.210)       # south-west corner of the district
STREET_SIZE = (0.020, 0.015)     # degrees lon, lat
GRID_ROWS = GRID_COLS = 5

DEPARTMENTS = [
    ("DC", "区城市运行管理中心", "dispatch_center"),
    ("LH", "区绿化和市容管理局", "functional"),
    ("JS", "区建设和管理委员会", "functional"),
    ("SW", "区水务局", "functional"),
    ("JT", "区交通管理部门", "functional"),
    ("SJ", "区市场监督管理局", "functional"),
    ("FG", "区房屋管理局", "functional"),
    ("LD", "区路灯管理所", "functional"),
    ("ZF", "区城管执法局综合执法大队", "enforcement_team"),
]
# big class -> department by default; small-class exceptions below
DEFAULT_BY_CLASS = {"C01": "JS", "C02": "JT", "C03": "LH", "C04": "LH", "C05": "FG", "C06": "JS",
                    "E01": "LH", "E02": "LH", "E03": "JS", "E04": "JS", "E05": "SJ", "E06": "FG"}
# Unauthorised structures (E0101), illegal construction (E0304) and open-air barbecues (E0505)
# go to the department that handles them like any other case; when law enforcement is
# needed, that department refers the case to the enforcement team (ZF) with refer_enforcement.
# The matrix never names ZF (it refuses to).
EXCEPTIONS = {"C0101": "SW", "C0102": "SW", "C0103": "SW", "C0104": "SW", "C0108": "LD",
              "E0105": "SW", "E0404": "SW", "E0402": "SW", "E0304": "JS", "E0101": "JS", "E0505": "LH"}
# handled by the street office of the street it happens in
STREET_CATEGORIES = ["E0102", "E0104", "E0502", "E0503", "E0504", "E0202"]


def demo_loaded(session) -> bool:
    return session.scalar(select(Department.id).where(Department.code == "DC")) is not None


def features() -> list[GridFeature]:
    out: list[GridFeature] = []

    def add(code, name, level, parent, geom):
        out.append(GridFeature(len(out), code, name, level, parent, geom, {}))

    x0, y0 = ORIGIN
    sw, sh = STREET_SIZE
    add(DISTRICT[0], DISTRICT[1], "district", None, box(x0, y0, x0 + 2 * sw, y0 + 2 * sh))
    for s, (street_code, street_name) in enumerate(STREETS):
        sx, sy = x0 + (s % 2) * sw, y0 + (s // 2) * sh
        add(street_code, street_name, "street", DISTRICT[0], box(sx, sy, sx + sw, sy + sh))
        cw = sw / 3
        for c in range(3):
            comm_code = f"{street_code}{c + 1:03d}"
            cx = sx + c * cw
            add(comm_code, f"{street_name[:-2]}{COMMUNITY_NAMES[c]}社区", "community", street_code,
                box(cx, sy, cx + cw, sy + sh))
            gw, gh = cw / GRID_COLS, sh / GRID_ROWS
            for n in range(GRID_ROWS * GRID_COLS):
                r, k = divmod(n, GRID_COLS)
                gx, gy = cx + k * gw, sy + r * gh
                add(f"{comm_code}{n + 1:02d}", f"{street_name[:-2]}{COMMUNITY_NAMES[c]}第{n + 1}网格", "grid",
                    comm_code, box(gx, gy, gx + gw, gy + gh))
    return out


def load_demo(session, echo=print) -> dict:
    if session.scalar(select(Category.code).limit(1)) is None:
        load_catalog(session)
    echo("demo: grids")
    result = import_features(session, features(), crs="wgs84", source="demo")

    echo("demo: departments")
    depts = {}
    for code, name, kind in DEPARTMENTS:
        depts[code] = Department(code=code, name=name, kind=kind, phone="021-6300" + str(len(depts)).zfill(4))
    for street_code, street_name in STREETS:
        code = f"JD{street_code[-3:]}"
        depts[code] = Department(code=code, name=f"{street_name}办事处", kind="street_office", grid_code=street_code)
    session.add_all(depts.values())
    session.flush()

    echo("demo: staff")
    password = hash_password(DEMO_PASSWORD)  # one hash for every demo account keeps loading fast
    staff: list[Staff] = []

    def person(username, name, roles, dept=None):
        s = Staff(username=username, name=name, password_hash=password, department_id=dept and depts[dept].id,
                  phone=f"1380000{len(staff):04d}")
        s.role_rows = [StaffRole(role=r) for r in roles]
        staff.append(s)
        return s

    person("admin", "系统管理员", ["admin"])
    person("shouli", "受理员小王", ["intake_clerk"], "DC")
    person("zhiban", "值班长老李", ["shift_leader"], "DC")
    person("paiqian", "派遣员小张", ["dispatcher"], "DC")
    person("lingdao", "区领导", ["leader"])
    person("zfdz", "执法大队长", ["enforcement_leader"], "ZF")
    person("zfdy1", "执法队员甲", ["enforcement_officer"], "ZF")
    person("zfdy2", "执法队员乙", ["enforcement_officer"], "ZF")
    for code in depts:
        if depts[code].kind in ("functional", "street_office"):
            person(f"cz-{code.lower()}", f"{depts[code].name}处置员", ["department_handler"], code)
    grid_codes = [f.code for f in features() if f.level == "grid"]
    workers = []
    for i in range(0, len(grid_codes), GRID_COLS):
        w = person(f"wgy{i // GRID_COLS + 1:03d}", f"网格员{i // GRID_COLS + 1:03d}", ["grid_worker"])
        workers.append((w, grid_codes[i:i + GRID_COLS]))
    session.add_all(staff)
    session.flush()
    for w, codes in workers:
        session.add_all(GridAssignment(staff_id=w.id, grid_code=c) for c in codes)

    echo("demo: responsibility matrix")
    rules = 0
    for cat in session.scalars(select(Category).where(Category.parent_code.is_not(None))):
        dept = EXCEPTIONS.get(cat.code) or DEFAULT_BY_CLASS[cat.parent_code]
        session.add(Responsibility(category_code=cat.code, grid_code=EVERYWHERE, department_id=depts[dept].id))
        rules += 1
        if cat.code in STREET_CATEGORIES:
            for street_code, _ in STREETS:
                session.add(Responsibility(category_code=cat.code, grid_code=street_code,
                                           department_id=depts[f"JD{street_code[-3:]}"].id))
                rules += 1
    session.flush()
    return {"grids": len(result.created), "departments": len(depts), "staff": len(staff),
            "rules": rules, "password": DEMO_PASSWORD}


# --- the ``wangge demo load`` command -------------------------------------------------------

demo_cli = AppGroup("demo", help="Demo city.")


@demo_cli.command("load")
def demo_load():
    """Load the demo city (districts, streets, communities, grids, departments, staff, matrix)."""


    if demo_loaded(db.session):
        click.echo("demo already loaded")
        return
    summary = load_demo(db.session, echo=lambda m: click.echo(m, err=True))
    db.session.commit()
    click.echo(f"demo loaded: {summary}")


commands = [demo_cli]
