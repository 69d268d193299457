"""The pull's source of my notifications (table ``notifications``): notices written to me or
marked read since my cursor, from ``dispatch.notifications.personal.changed_since`` (its own
server-side cursor, which errs on the side of repeating, never of missing: the phone upserts
by id). Notices are never removed; read ones come again with ``read: true``."""
from __future__ import annotations

from dispatch.notifications.personal import changed_since
from grid.models import Staff
from mobile_api.notices.presenters import notice_view
from mobile_api.sync.sources import SourceAnswer
from wangge.i18n import current_language


def load(value):
    if value is not None and (type(value) is not int or not 0 <= value < 2**63):
        raise ValueError("bad notifications cursor")
    return value


def source(session, staff: Staff, since, until, *, limit: int, crs: str) -> SourceAnswer:
    changes = changed_since(session, staff.id, since, limit=limit)
    lang = current_language()
    return SourceAnswer({"notifications": {"updated": [notice_view(n, lang) for n in changes.notices],
                                           "removed": []}},
                        changes.cursor, more=changes.more)
