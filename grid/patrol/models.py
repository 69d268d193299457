"""Patrol tables (activity, not registry: they stay out of grid/models.py)."""
