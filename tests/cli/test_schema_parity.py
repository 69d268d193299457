"""One Alembic history builds the same schema on PostGIS and on the embedded SQLite file."""
from sqlalchemy import create_engine, inspect

from tests.embedded.test_embedded_smoke import embedded_env, wangge


def columns(url: str) -> dict[str, set[str]]:
    engine = create_engine(url)
    try:
        insp = inspect(engine)
        return {t: {c["name"] for c in insp.get_columns(t)} for t in insp.get_table_names()
                if t not in ("spatial_ref_sys",)}
    finally:
        engine.dispose()


def test_same_tables_and_columns_on_both_backends(pg_url, tmp_path):
    wangge(embedded_env(tmp_path / "var"), "init")
    sqlite = columns(f"sqlite:///{tmp_path / 'var' / 'wangge.sqlite3'}")
    postgis = columns(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    assert sqlite == postgis
    assert {"grids", "staff", "responsibilities", "time_limits", "calendar_days", "alembic_version"} <= set(sqlite)
