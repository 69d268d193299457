"""How a notice looks to its reader."""
from __future__ import annotations

from dispatch.notifications.models import PersonalNotice
from dispatch.notifications.personal import notice_title


def notice_view(row: PersonalNotice, lang: str) -> dict:
    return {"id": row.id, "topic": row.topic, "template": row.template, "title": notice_title(row.topic, lang),
            "text": row.text_en if lang == "en" else row.text_zh, "case_number": row.case_number,
            "created_at": row.created_at, "read": row.read_at is not None, "read_at": row.read_at}
