"""HTTP API of the registry: one blueprint per area, registered by the app factory."""
from .accounts import blp as accounts_blp
from .calendar import blp as calendar_blp
from .categories import blp as categories_blp
from .departments import blp as departments_blp
from .geo import blp as geo_blp
from .grids import blp as grids_blp
from .matrix import blp as matrix_blp
from .staff import blp as staff_blp

blueprints = [accounts_blp, grids_blp, geo_blp, departments_blp, staff_blp, categories_blp,
              matrix_blp, calendar_blp]
