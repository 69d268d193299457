"""Unified dispatch (统一派单): cases from intake to a closed, rated case. Not built yet."""
