"""The phone API (``/api/m/v1``): what grid workers, department handlers and enforcement
officers use from their phones all day, often on a bad network (docs/mobile.md).

It is composed from the grid and dispatch services; it keeps no second copy of their rules.
One package per part, each registering itself through ``init_part(app, api)``:

* ``me`` - profile, my grids (GeoJSON with ETag), device sessions and refresh tokens;
* ``inbox`` - what needs me now, across my roles, sorted by deadline;
* ``sync`` - offline sync: pull what changed since the server's cursor;
* ``push`` - offline sync: an ordered batch of what was done offline, one outcome per item;
* ``patrol`` - patrols (巡查) and their GPS tracks (the service is ``grid.patrol``);
* ``notices`` - my notifications (read / unread) and push subscriptions.

``crs`` converts any point or geometry of an answer to the system the client draws in."""
from __future__ import annotations

PREFIX = "/api/m/v1"


def init_app(app, api) -> None:
    """Register the phone API's parts (called by the app factory). Imported here, not at the
    top: ``import mobile_api.models`` must not load every view."""
    from . import models  # noqa: F401 - registers every table
    from .inbox import init_part as inbox
    from .me import init_part as me
    from .notices import init_part as notices
    from .patrol import init_part as patrol
    from .push import init_part as push
    from .sync import init_part as sync

    for init_part in (me, inbox, sync, push, patrol, notices):  # the OpenAPI document's order
        init_part(app, api)
