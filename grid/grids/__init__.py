"""The grid layer: import, topology, point-to-grid lookup (``/grids``, ``/geo``)."""
