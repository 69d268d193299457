"""Pure geometry for Wangge grids: coordinate systems, file import, validation,
code rules, topology checks and point-in-grid lookup.

Deliberately free of Flask/SQLAlchemy: only stdlib, numpy (via shapely), shapely,
pyproj and pyshp, so it can be used from the web app, workers and CLI alike.
"""
