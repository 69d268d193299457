"""Flask extensions, created unbound and attached in the app factory with ``init_app``."""
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api, Blueprint
from flask_sqlalchemy import SQLAlchemy
from marshmallow import Schema
from sqlalchemy import MetaData
from webargs.flaskparser import FlaskParser

from .db_session import RoutingSession, app_context_id

# Stable constraint names so Alembic migrations are the same on PostgreSQL and SQLite.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# RoutingSession: reads marked @reads_replica go to the replica engine (wangge.replica).
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING), session_options={"class_": RoutingSession,
                                                                                   "scopefunc": app_context_id})
migrate = Migrate()
api = Api()
# Storage comes from the app config: Redis in production, memory in the embedded default.
# If Redis is unreachable the limiter falls back to memory rather than refusing sign-ins.
limiter = Limiter(key_func=get_remote_address, swallow_errors=True, in_memory_fallback_enabled=True,
                  headers_enabled=True)
# gzip of large JSON answers when the client accepts it (settings in ``wangge.create_app``).
compress = Compress()


class SchemaReusingParser(FlaskParser):
    """webargs builds a new instance of a schema given as a class (``@blp.arguments(Schema)``)
    on every request, and marshmallow deep-copies every declared field to do it: about a tenth
    of a report's CPU. Our schemas keep no per-request state (their options are constructor
    arguments, the same every time), so one instance per class serves every request."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._schemas: dict[type, Schema] = {}

    def _get_schema(self, argmap, req):
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)


# flask-smorest's documented hook for a custom parser; set on the class every blueprint of the
# project is made from, before any of them decorates a view (they all import this module).
Blueprint.ARGUMENTS_PARSER = SchemaReusingParser()
