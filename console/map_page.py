"""The console's map: grid outlines at every level as the base map (or a configured tile
server), open cases as pins coloured by light, clustered by the server when dense
(``GET /api/v1/map/cases``, ``/api/v1/map/grids``; docs/console.md, Map)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint

from dispatch.workflow.map_views import LIGHTS, MAP_ROLES
from grid.models import GRID_LEVELS
from wangge.auth import requires
from wangge.config import current_settings
from wangge.i18n import t

from .render import page, page_errors, page_lang

blp = Blueprint("console_map", __name__, template_folder="templates")

MAP_WORDS = ("console_loading", "console_load_failed", "console_casemap_status", "console_casemap_cluster",
             "console_casemap_open_case", "console_light_none", *(f"console_light_{x}" for x in LIGHTS if x != "none"))


def tile_source(url: str) -> str:
    """The tile server's origin for the page's Content-Security-Policy (``{s}`` subdomains: ``*.``)."""
    parts = urlsplit(url)
    host = parts.netloc
    if "{" in host:
        host = "*." + host.split(".", 1)[1] if "." in host else ""
    return f"{parts.scheme}://{host}" if parts.scheme in ("http", "https") and host else ""


@blp.route("/console/map")
@requires(*MAP_ROLES)
def map_page():
    """Grid outlines (a level switch), case pins by light, clusters; a pin's popup opens the case."""
    lang = page_lang()
    settings = current_settings()
    tiles = settings.map_tile_url
    response = page("console/map.html", script_words=MAP_WORDS,
                    levels=[(lv, t(f"console_level_{lv}", lang=lang)) for lv in GRID_LEVELS],
                    lights=[(x, t(f"console_light_{x}", lang=lang)) for x in LIGHTS],
                    tile_url=tiles, tile_crs=settings.map_tile_crs if tiles else "wgs84",
                    tile_subdomains=settings.map_tile_subdomains, tile_attribution=settings.map_tile_attribution)
    source = tile_source(tiles) if tiles else ""
    if source:  # the tiles are the one thing loaded from elsewhere
        csp = response.headers["Content-Security-Policy"]
        response.headers["Content-Security-Policy"] = csp.replace("img-src 'self'", f"img-src 'self' {source}", 1)
    return response


page_errors(blp)
