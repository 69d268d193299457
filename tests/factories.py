"""factory_boy factories bound to the test session (flush, never commit)."""
from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory
from shapely.geometry import box

from grid.models import Category, Department, Grid, GridAssignment, Responsibility, Staff, StaffRole
from wangge.extensions import db

# one argon2 hash for every factory-made account keeps tests fast
_PASSWORD_HASH = None
PASSWORD = "correct-horse-battery"


def password_hash():
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        from grid.accounts import hash_password

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
            from grid.locator import bump_layer

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
