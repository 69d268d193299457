"""The pages: the console's case queue and the citizen's report and tracking pages. Each is
a shell; its script calls the JSON API (docs/console.md)."""
from __future__ import annotations

from flask import Blueprint, redirect, request, url_for
from sqlalchemy import select

from dispatch.cases.lifecycle import STATES
from dispatch.cases.models import CHANNELS, RATINGS
from dispatch.workflow.presenters import PUBLIC_EVENTS
from dispatch.workflow.schemas import LIGHTS
from grid.models import Category, Department, Grid
from grid.roles import ROLES
from wangge.auth import public, requires
from wangge.extensions import db
from wangge.i18n import t

from .render import page, page_errors, page_lang

blp = Blueprint("console_pages", __name__, template_folder="templates")

QUEUE_WORDS = ("console_loading", "console_no_cases", "console_updated", "console_load_failed",
               "console_more", "console_light_none", *(f"console_light_{x}" for x in LIGHTS),
               "console_overdue", "console_shown")
CITIZEN_WORDS = ("console_sending", "console_uploading_photo", "console_report_sent", "console_locating",
                 "console_location_set", "console_location_failed", "console_need_description",
                 "console_track_none", "console_rated", "console_send_failed", "console_not_yet",
                 *(f"console_rating_{r}" for r in RATINGS), *(f"verb_{v}" for v in PUBLIC_EVENTS))


def _categories(lang: str) -> list[dict]:
    rows = db.session.scalars(select(Category).where(Category.active.is_(True))
                              .order_by(Category.sort, Category.code)).all()
    groups = {c.code: c for c in rows if c.parent_code is None}

    def name(c):
        return (c.name_en or c.name_zh) if lang == "en" else c.name_zh

    return [{"name": name(group), "items": [{"code": c.code, "name": name(c)}
                                             for c in rows if c.parent_code == code]}
            for code, group in groups.items()]


@blp.route("/")
@public
def root():
    """The site's front door: the console (which asks desk staff to sign in)."""
    return redirect(url_for("console_pages.home"))


@blp.route("/console/")
@requires()
def home():
    return redirect(url_for("console_pages.queue"))


@blp.route("/console/queue")
@requires(*ROLES)
def queue():
    """The case queue: filters, counts per light, refreshed by polling, keyboard-friendly."""
    lang = page_lang()
    departments = db.session.scalars(select(Department).order_by(Department.code)).all()
    grids = db.session.scalars(select(Grid).where(Grid.valid_to.is_(None), Grid.level.in_(("district", "street", "community")))
                               .order_by(Grid.code)).all()
    return page("console/queue.html", script_words=QUEUE_WORDS,
                states=[(s, t(f"state_{s}", lang=lang)) for s in STATES],
                channels=[(c, t(f"console_channel_{c}", lang=lang)) for c in CHANNELS],
                lights=[(x, t(f"console_light_{x}", lang=lang)) for x in LIGHTS],
                departments=departments, grids=grids, categories=_categories(lang),
                refresh_seconds=int(request.args.get("refresh", 30)) if request.args.get("refresh", "").isdigit() else 30)


@blp.route("/citizen/report")
@public
def citizen_report():
    """Report a problem without an account: category, description, place, photos."""
    return page("console/citizen_report.html", script_words=CITIZEN_WORDS, categories=_categories(page_lang()))


@blp.route("/citizen/track")
@public
def citizen_track():
    """Follow a report by its tracking code; rate it once it is closed."""
    return page("console/citizen_track.html", script_words=CITIZEN_WORDS, code=request.args.get("code", "")[:32])


page_errors(blp)
