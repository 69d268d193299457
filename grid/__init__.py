"""The grid registry: grids, departments, staff, categories, responsibility, time limits, calendar."""
