"""A geometry column that holds shapely geometries on both storage backends.

PostgreSQL: a PostGIS ``geometry`` with SRID 4326 (indexed with GiST in the migration).
SQLite (embedded default): WKB in a BLOB; spatial queries there go through the
in-process index instead of the database.
"""
from __future__ import annotations

import shapely
from geoalchemy2 import Geometry as PostGISGeometry
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import to_shape
from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

SRID = 4326


class Geometry(TypeDecorator):
    impl = LargeBinary
    cache_ok = True
    # Read by geoalchemy2's DDL hooks; the GiST index is created by our migration.
    srid = SRID
    dimension = 2
    spatial_index = False
    use_N_D_index = False
    use_typmod = None

    def __init__(self, geometry_type: str = "GEOMETRY"):
        super().__init__()
        self.geometry_type = geometry_type

    def load_dialect_impl(self, dialect):
        if dialect is None:  # geoalchemy2's DDL hooks probe without a dialect
            return LargeBinary()
        if dialect.name == "postgresql":
            return dialect.type_descriptor(
                PostGISGeometry(self.geometry_type, srid=SRID, spatial_index=False)
            )
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "postgresql":
            return WKBElement(shapely.to_wkb(value, include_srid=False), srid=SRID, extended=False)
        return shapely.to_wkb(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, WKBElement):
            return to_shape(value)
        if isinstance(value, str):
            return shapely.from_wkb(bytes.fromhex(value))
        return shapely.from_wkb(bytes(value))

    def copy(self, **kw):
        return Geometry(self.geometry_type)
