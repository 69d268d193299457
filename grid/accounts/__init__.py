"""Accounts: sign-in and tokens (``/auth``), staff, their roles and grid assignments (``/staff``)."""
