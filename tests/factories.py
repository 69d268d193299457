"""factory_boy factories bound to the test session (flush, never commit).

Registry rows (departments, staff, grids, categories, matrix rules, assignments) and dispatch
rows (cases with their submit event, case events, stage clocks, attachment metadata,
enforcement cases and records). A factory makes a valid row, not a history: a test about
what the lifecycle does drives it through the API or ``dispatch.workflow.actions.act``; one
that needs rows in a given shape (a photo to attach, an event that breaks the log, a case in
some state for a query) takes them from here.
"""
from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

import factory
from factory.alchemy import SQLAlchemyModelFactory
from flask import current_app
from shapely.geometry import Point, box

from dispatch.attachments.models import Attachment
from dispatch.cases.lifecycle import CITIZEN, SYSTEM
from dispatch.cases.models import Case, CaseEvent
from dispatch.clocks.models import StageClock
from dispatch.enforcement.models import EnforcementCase, EnforcementRecord
from dispatch.intake.numbering import next_number, tracking_code
from grid.accounts.service import hash_password
from grid.calendar.service import work_calendar
from grid.grids.locator import bump_layer
from grid.models import Category, Department, Grid, GridAssignment, Responsibility, Staff, StaffRole
from wangge.extensions import db
from wangge.timeutil import utcnow

# one argon2 hash for every factory-made account keeps tests fast
_PASSWORD_HASH = None
PASSWORD = "correct-horse-battery"


def password_hash():
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class DepartmentFactory(Base):
    class Meta:
        model = Department

    code = factory.Sequence(lambda n: f"D{n:03d}")
    name = factory.Sequence(lambda n: f"测试部门{n}")
    kind = "functional"


class StaffFactory(Base):
    class Meta:
        model = Staff
        exclude = ("roles",)

    username = factory.Sequence(lambda n: f"user{n}")
    name = factory.Sequence(lambda n: f"测试人员{n}")
    password_hash = factory.LazyFunction(password_hash)
    roles = ()
    role_rows = factory.LazyAttribute(lambda o: [StaffRole(role=r) for r in o.roles])


class GridFactory(Base):
    """A square cell; ``x``/``y`` place it on a 0.01-degree lattice near Shanghai."""

    class Meta:
        model = Grid
        exclude = ("x", "y", "size")

    x = 0
    y = 0
    size = 0.01
    code = factory.Sequence(lambda n: f"G{n:05d}")
    name = factory.LazyAttribute(lambda o: f"网格{o.code}")
    level = "grid"
    geom = factory.LazyAttribute(lambda o: box(121.4 + o.x * o.size, 31.2 + o.y * o.size,
                                               121.4 + (o.x + 1) * o.size, 31.2 + (o.y + 1) * o.size))
    area_m2 = 1000.0

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        super()._after_postgeneration(instance, create, results)
        if create:
            bump_layer(db.session)


class CategoryFactory(Base):
    class Meta:
        model = Category

    code = factory.Sequence(lambda n: f"T{n:04d}")
    kind = "event"
    parent_code = "E01"
    name_zh = factory.Sequence(lambda n: f"测试类别{n}")


class ResponsibilityFactory(Base):
    class Meta:
        model = Responsibility

    category_code = "E0102"
    grid_code = "*"
    department = factory.SubFactory(DepartmentFactory)


class AssignmentFactory(Base):
    class Meta:
        model = GridAssignment

    staff = factory.SubFactory(StaffFactory, roles=["grid_worker"])
    grid_code = "G00000"


# --- dispatch -----------------------------------------------------------------------------

def _case_number(o) -> str:
    """The next number of the area and the year the case was reported in (the intake's own
    numbering, so factory cases and submitted ones never share a number)."""
    year = o.reported_at.astimezone(ZoneInfo(current_app.config["WANGGE"].timezone)).year
    return next_number(db.session, o.area, year)


class CaseFactory(Base):
    """A reported case (state ``reported``, from the web form) with its ``submit`` event.

    ``CaseFactory(lon=121.405, lat=31.205)`` gives it a location (``location`` follows from
    ``lon``/``lat``); ``grid=`` a grid (``grid_code`` follows); ``submitted=None`` leaves
    the event log empty. Other states are set as given (``state="handling",
    department=dept``): the log then still holds only the submit event."""

    class Meta:
        model = Case

    class Params:
        area = "310101"
        grid = None

    reported_at = factory.LazyFunction(utcnow)
    number = factory.LazyAttribute(_case_number)
    tracking_code = factory.LazyFunction(lambda: tracking_code(db.session))
    channel = "web"
    description = factory.Sequence(lambda n: f"路边有暴露垃圾{n}")
    state = "reported"
    lon = None
    lat = None
    location = factory.LazyAttribute(lambda o: Point(o.lon, o.lat) if o.lon is not None else None)
    grid_id = factory.LazyAttribute(lambda o: o.grid.id if o.grid is not None else None)
    grid_code = factory.LazyAttribute(lambda o: o.grid.code if o.grid is not None else None)
    submitted = factory.RelatedFactory("tests.factories.CaseEventFactory", factory_related_name="case",
                                       verb="submit", from_state=None, to_state="reported")


class CaseEventFactory(Base):
    """One event of a case; by default the ``submit`` that opens its log. ``actor=`` a staff
    member (default: the case's reporter, a citizen when there is none; the role is the
    actor's first) or ``actor_id=`` and ``actor_role=``."""

    class Meta:
        model = CaseEvent

    class Params:
        actor = factory.LazyAttribute(lambda o: o.case.reporter)

    case = factory.SubFactory(CaseFactory, submitted=None)
    verb = "submit"
    actor_id = factory.LazyAttribute(lambda o: o.actor.id if o.actor is not None else None)
    actor_role = factory.LazyAttribute(
        lambda o: CITIZEN if o.actor is None else (o.actor.roles[0] if o.actor.roles else SYSTEM))
    at = factory.LazyFunction(utcnow)
    from_state = None
    to_state = "reported"
    data = factory.LazyFunction(dict)
    attachment_ids = factory.LazyFunction(list)


class StageClockFactory(Base):
    """A running clock of one stage, 4 working hours by default, its warning and deadline
    computed over the work calendar as ``dispatch.clocks`` does. The owner is ``case=``
    (default: a new case; stage ``handle``) or ``enforcement=`` an enforcement case (stage
    ``enf_<its stage>``, the team as department)."""

    class Meta:
        model = StageClock

    class Params:
        enforcement = None

    case = factory.Maybe("enforcement", yes_declaration=None, no_declaration=factory.SubFactory(CaseFactory))
    enforcement_id = factory.LazyAttribute(lambda o: o.enforcement.id if o.enforcement is not None else None)
    stage = factory.LazyAttribute(lambda o: f"enf_{o.enforcement.stage}" if o.enforcement is not None else "handle")
    department_id = factory.LazyAttribute(
        lambda o: o.enforcement.team_id if o.enforcement is not None else
        (o.case.department_id if o.case is not None else None))
    started_at = factory.LazyFunction(utcnow)
    amount = 4.0
    unit = "work_hours"
    consumed = 0.0
    segment_started_at = factory.SelfAttribute("started_at")
    warn_at = factory.LazyAttribute(
        lambda o: work_calendar(db.session).add(o.started_at, max(o.amount * 0.8 - o.consumed, 0.0), o.unit))
    due_at = factory.LazyAttribute(
        lambda o: work_calendar(db.session).add(o.started_at, max(o.amount - o.consumed, 0.0), o.unit))


class AttachmentFactory(Base):
    """The row of an uploaded photo (metadata only: no file is written). ``uploader=`` a
    staff member (default: a new one) or ``uploaded_by=`` an id; ``case=`` attaches it."""

    class Meta:
        model = Attachment

    class Params:
        uploader = None
        case = None

    uploaded_by = factory.LazyAttribute(lambda o: (o.uploader or StaffFactory()).id)
    case_id = factory.LazyAttribute(lambda o: o.case.id if o.case is not None else None)
    filename = "photo.jpg"
    content_type = "image/jpeg"
    size = 1234
    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"factory photo {n}".encode()).hexdigest())
    path = factory.LazyAttribute(lambda o: f"{o.sha256[:2]}/{o.sha256}")  # as the store names it


class EnforcementCaseFactory(Base):
    """A referral in its first stage (``accept``) to a new enforcement team, from a case in
    ``enforcement``; numbered as the referral service numbers it (``<case>-ZF1``). No group,
    officers or stage clock (``StageClockFactory(enforcement=...)`` adds the clock)."""

    class Meta:
        model = EnforcementCase

    parent = factory.SubFactory(CaseFactory, state="enforcement")
    team = factory.SubFactory(DepartmentFactory, kind="enforcement_team")
    number = factory.LazyAttribute(lambda o: f"{o.parent.number}-ZF1")
    stage = "accept"
    stage_started_at = factory.LazyFunction(utcnow)
    reason = "占道经营，多次劝导无效"


class EnforcementRecordFactory(Base):
    """One record of an enforcement case (a ``note`` by default); ``enforcement=`` the case
    (default: a new one) or ``enforcement_id=`` its id."""

    class Meta:
        model = EnforcementRecord

    class Params:
        enforcement = None

    enforcement_id = factory.LazyAttribute(lambda o: (o.enforcement or EnforcementCaseFactory()).id)
    kind = "note"
    at = factory.LazyFunction(utcnow)
    note = "现场核查"
    data = factory.LazyFunction(dict)
    attachment_ids = factory.LazyFunction(list)
