"""The category catalog and the time limits per category and stage (``/categories``)."""
