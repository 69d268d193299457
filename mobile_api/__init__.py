"""The grid workers' phone API. Not built yet; sign-in and locate live in grid.accounts and grid.grids today."""
