"""Phone API part ``push`` (see mobile_api/__init__.py): the single report and the offline
batch (``POST /api/m/v1/reports``, ``POST /api/m/v1/sync/push``), and the dispatch center's
kept conflicts (``/api/v1/sync-conflicts``)."""
from __future__ import annotations


def init_part(app, api) -> None:
    """Register this part's blueprint, commands and hooks."""
    from dispatch.attachments.service import register_reader

    # here, not at the top: importing the package must not load the views
    from . import conflicts, views
    from .schemas import lenient_items

    api.ma_plugin.converter.add_attribute_function(lenient_items)
    api.register_blueprint(views.blp)
    api.register_blueprint(views.desk)
    register_reader(conflicts.may_read_photo)  # the dispatch center sees a conflict's photos
