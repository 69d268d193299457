"""Flask extensions, created unbound and attached in the app factory with ``init_app``."""
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from .db_session import RoutingSession

# Stable constraint names so Alembic migrations are the same on PostgreSQL and SQLite.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# RoutingSession: reads marked @reads_replica go to the replica engine (wangge.replica).
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING), session_options={"class_": RoutingSession})
migrate = Migrate()
api = Api()
# Storage comes from the app config: Redis in production, memory in the embedded default.
# If Redis is unreachable the limiter falls back to memory rather than refusing sign-ins.
limiter = Limiter(key_func=get_remote_address, swallow_errors=True, in_memory_fallback_enabled=True,
                  headers_enabled=True)
# gzip of large JSON answers when the client accepts it (settings in ``wangge.create_app``).
compress = Compress()
