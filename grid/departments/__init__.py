"""Departments (``/departments``) and which kinds of department take dispatched cases."""
