"""The responsibility matrix: (category, grid or an ancestor) -> department (``/matrix``)."""
