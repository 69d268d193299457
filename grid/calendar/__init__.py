"""The work calendar (``workcal``), its local overrides and deadlines (``/calendar``)."""
