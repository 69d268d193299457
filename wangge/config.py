"""Configuration from ``WANGGE_*`` environment variables.

No database URL means the embedded default: a SQLite file under ``./var/`` with
background jobs run inline. A ``postgresql://`` URL plus a Redis URL selects the
production parts (PostGIS storage, rq workers).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine import Dialect

PREFIX = "WANGGE_"


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Settings:
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = "dev-only-secret-change-me"
    host: str = "127.0.0.1"
    port: int = 8000
    # The production server (`wangge serve` on PostgreSQL runs gunicorn; docs/operations.md).
    web_workers: int = 2                 # processes; about one or two per core
    web_threads: int = 4                 # threads per process (gthread: keep-alive works)
    web_keepalive_seconds: int = 5       # an idle kept-alive connection is closed after this
    web_max_requests: int = 10000        # a worker is replaced after about this many requests...
    web_max_requests_jitter: int = 1000  # ...plus up to this many, so they do not all restart at once
    web_timeout_seconds: int = 60        # a worker silent this long is killed and replaced
    web_graceful_timeout_seconds: int = 30  # SIGTERM/SIGHUP: requests in flight get this long to finish
    timezone: str = "Asia/Shanghai"
    language: str = "zh"
    working_hours: str = "08:00-12:00,14:00-18:00"
    grid_code_rule: str = "free"  # "free" | "national"
    grid_seq_digits: str = "2,3"
    token_ttl_hours: int = 12
    cookie_secure: bool = False             # the console's session cookie only over HTTPS (docs/console.md)
    # the console's map (docs/console.md): the grid outlines are the base map; a tile server is optional
    map_tile_url: str = ""                  # Leaflet URL template, e.g. https://t{s}.example.com/{z}/{x}/{y}.png
    map_tile_crs: str = "wgs84"             # the tiles' coordinate system: wgs84 (Tianditu, OSM) or gcj02 (AMap, Tencent)
    map_tile_subdomains: str = "abc"        # the letters or digits {s} takes
    map_tile_attribution: str = ""          # the provider's credit shown on the map
    login_rate_limit: str = "10 per 15 minutes"          # failed sign-ins per address and username
    login_address_rate_limit: str = "30 per 15 minutes"  # failed sign-ins per address, any username
    open311_rate_limit: str = "120 per minute"           # Open311 requests per address
    index_check_seconds: float = 2.0
    token_check_seconds: float = 2.0      # how stale a process's cache of signed-in tokens may be (revocations)
    count_cap: int = 10_000               # the queue's counts stop here and answer "more than" (docs/api.md)
    db_pool_recycle_seconds: int = 1800   # a pooled connection older than this is replaced
    db_pool_pre_ping: bool = False        # ping each connection on checkout (a round trip per request)
    queue_name: str = "wangge"
    jobs_inline: bool | None = None
    load_demo: bool = True
    area_code: str = "000000"
    max_extensions: int = 2
    pause_while_extension_pending: bool = False
    duplicate_distance_m: float = 50.0
    duplicate_hours: float = 24.0
    enforcement_group_distance_m: float = 100.0
    enforcement_group_days: float = 7.0
    notification_channels: str = "log"
    webhook_url: str = ""
    sweep_interval_seconds: float = 60.0
    # > 0: each worker relays the outbox every this many seconds and requests never touch
    # Redis; 0: each request enqueues its notices' jobs right after its commit
    relay_interval_seconds: float = 0.5
    kpi_weights: str = ""
    media_dir: str = ""
    max_upload_mb: int = 50
    # Photos (docs/photos.md): a staff photo taken longer before its report/action than this,
    # or farther from the case than this, is flagged for the dispatcher when attached.
    photo_max_age_hours: float = 24.0
    photo_max_distance_m: float = 500.0
    public_photo_rate_limit: str = "30 per hour"   # citizens' photo uploads per address
    public_photo_ttl_minutes: int = 60              # a citizen's upload token is usable this long
    public_photo_purge_margin_minutes: int = 1440   # unused uploads are purged this long after their token expired
    data_dir: str = "var"
    # patrols (巡查, grid.patrol): track filters, coverage, partitions of the track table
    patrol_retention_days: int = 180        # track points older than this are dropped
    patrol_partitions_ahead: int = 7        # day partitions created ahead by the periodic job
    patrol_max_speed_mps: float = 50.0      # implied speed above this between two points: a jump
    patrol_max_accuracy_m: float = 100.0    # a point whose accuracy is worse than this is refused
    patrol_max_outside_m: float = 2000.0    # a point farther than this from all my grids is refused
    patrol_coverage_m: float = 30.0         # a grid's area within this distance of my track is covered
    patrol_gap_seconds: float = 300.0       # two points further apart in time are not joined
    # push notifications (dispatch.notifications.push): Web Push with VAPID, a vendor's HTTP API
    vapid_private_key: str = ""       # base64url raw P-256 key: `wangge notify vapid-keys`
    vapid_subject: str = ""           # mailto:ops@example.org or https://... (told to push services)
    webpush_hosts: str = ("fcm.googleapis.com,.push.services.mozilla.com,.notify.windows.com,"
                          "web.push.apple.com")  # push services a subscription may name (.x = any subdomain)
    push_vendor_url: str = ""         # the vendor push service's send URL (JSON POST)
    push_vendor_app_key: str = ""
    push_vendors: str = "huawei,xiaomi,honor,oppo,vivo,jpush,getui"  # vendor names a token may have
    push_timeout_seconds: float = 10.0
    testing: bool = False
    extra: dict = field(default_factory=dict)
    # phone API, me (docs/mobile.md): device sessions and gzip of large answers
    refresh_ttl_days: int = 30              # a phone's refresh token lives this long (renewed on each rotation)
    device_token_ttl_minutes: int = 60      # access tokens issued to a device session
    compress_min_bytes: int = 1024          # answers smaller than this are sent uncompressed
    # offline sync (mobile_api.sync): the change feed's rows older than this are pruned; a
    # phone whose cursor is older than what was pruned gets a reset and a fresh snapshot
    sync_feed_retention_days: int = 30
    # read replica (wangge.replica, docs/operations.md "Read replica"): lists, indicators,
    # Open311 reads and exports go to this PostgreSQL streaming replica when it is close enough
    replica_database_url: str = ""          # empty: every read goes to the primary
    replica_max_lag_seconds: float = 5.0    # a replica further behind than this is not used
    replica_check_seconds: float = 1.0      # how often a process asks the replica how far it is

    def __post_init__(self) -> None:
        if self.map_tile_crs not in ("wgs84", "gcj02"):
            raise ValueError(f"{PREFIX}MAP_TILE_CRS must be wgs84 or gcj02 (got {self.map_tile_crs!r}); Baidu's "
                             "BD-09 tiles use a tiling of their own that the map does not draw")
        if self.sync_feed_retention_days < 1:
            raise ValueError(f"{PREFIX}SYNC_FEED_RETENTION_DAYS must be at least 1 day "
                             f"(got {self.sync_feed_retention_days})")
        if not 1 <= self.count_cap <= 10_000_000:
            raise ValueError(f"{PREFIX}COUNT_CAP must be from 1 to 10000000 (got {self.count_cap})")
        self._check_replica()

    def _check_replica(self) -> None:
        if not self.replica_database_url:
            return
        if self.embedded:
            raise ValueError(f"{PREFIX}REPLICA_DATABASE_URL is for a PostgreSQL {PREFIX}DATABASE_URL; the embedded "
                             "SQLite default has no replicas (leave it empty)")
        if not self.replica_database_url.startswith(("postgresql", "postgres://")):
            raise ValueError(f"{PREFIX}REPLICA_DATABASE_URL must be a postgresql:// URL of a streaming replica")
        if self.replica_max_lag_seconds <= 0:
            raise ValueError(f"{PREFIX}REPLICA_MAX_LAG_SECONDS must be more than 0 "
                             f"(got {self.replica_max_lag_seconds})")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Settings:
        env = os.environ if env is None else env
        values: dict = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(PREFIX + f.name.upper())
            if raw is None:
                continue
            if f.type == "int":
                values[f.name] = int(raw)
            elif f.type == "float":
                values[f.name] = float(raw)
            elif f.type in ("bool", "bool | None"):
                values[f.name] = _bool(raw)
            else:
                values[f.name] = raw
        values.update(overrides)
        return cls(**values)

    @property
    def embedded(self) -> bool:
        return not self.database_url or self.database_url.startswith("sqlite")

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://"):]
            return url
        path = Path(self.data_dir).resolve() / "wangge.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"

    @property
    def run_jobs_inline(self) -> bool:
        if self.jobs_inline is not None:
            return self.jobs_inline
        return not self.redis_url

    @property
    def seq_digits(self) -> tuple[int, ...]:
        return tuple(int(x) for x in self.grid_seq_digits.split(",") if x.strip())

    def engine_options(self) -> dict:
        # No ping per checkout (a round trip per request): connections are replaced after
        # ``db_pool_recycle_seconds``, and one found dead (the server restarted, a backend
        # terminated) is detected on its first statement, which invalidates the whole pool;
        # the request's first statement (the token lookup) is retried once on a fresh
        # connection (``wangge.auth``), others answer a clean 503 that the client retries.
        options: dict = {"pool_pre_ping": self.db_pool_pre_ping, "pool_recycle": self.db_pool_recycle_seconds}
        if not self.embedded:
            # An unreachable host (packets dropped, not refused) must fail a request or
            # /readyz within seconds, not hang for the TCP timeout.
            from wangge.pg_cursor import Cursor

            options["connect_args"] = {"connect_timeout": 5, "cursor_factory": Cursor}
        return options

    def flask_config(self) -> dict:
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.sqlalchemy_url,
            "SQLALCHEMY_ENGINE_OPTIONS": self.engine_options(),
            "TESTING": self.testing,
            "API_TITLE": "Wangge 网格",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/api",
            "OPENAPI_JSON_PATH": "openapi.json",
            "JSON_SORT_KEYS": False,
            "MAX_CONTENT_LENGTH": self.max_upload_mb * 1024 * 1024,
            "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
            "RATELIMIT_KEY_PREFIX": "wangge-limit",
            "WANGGE": self,
        }


def current_settings() -> Settings:
    """The running app's settings: the one way services, views and commands read configuration
    (tests change them on ``app.config["WANGGE"]``, which this returns)."""
    return current_app.config["WANGGE"]


# SQLSTATEs meaning "this connection is finished" (a terminated backend, a server shutting
# down or crashed): the pool must drop it and the connections opened before it. psycopg
# reports the first as an ordinary error, not as a closed connection, so without this the
# dead connection would go back to the pool and fail the next request too (no ping).
DISCONNECT_SQLSTATES = {"57P01", "57P02", "57P03"}


@event.listens_for(Dialect, "handle_error")
def _terminated_is_disconnect(context) -> None:
    if getattr(context.original_exception, "sqlstate", None) in DISCONNECT_SQLSTATES:
        context.is_disconnect = True
