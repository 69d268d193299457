"""The stack's floor: the smallest Flask + Flask-SQLAlchemy app that does what a report must
at least do (look the bearer token up, INSERT one row, commit, answer JSON), served by the
same gunicorn settings as Wangge (``wangge.serving.gunicorn_options``). The intake, verb and
scaling benchmarks measure against it in the same run.

    python -m bench.minimal_app --database-url postgresql://... --port 8123 [--workers N]

``setup(conninfo)`` creates its two tables and one token in a scratch database.
"""
from __future__ import annotations

import argparse
import os

import psycopg
from flask import Flask, abort, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

TOKEN = "minimal-bench-token"
SCHEMA = """
CREATE TABLE IF NOT EXISTS minimal_tokens (token text PRIMARY KEY, staff_id integer NOT NULL);
CREATE TABLE IF NOT EXISTS minimal_reports (
    id bigserial PRIMARY KEY,
    staff_id integer NOT NULL,
    description text NOT NULL,
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


def setup(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute("INSERT INTO minimal_tokens VALUES (%s, 1) ON CONFLICT DO NOTHING", (TOKEN,))


def create_app(database_url: str | None = None) -> Flask:
    app = Flask(__name__)
    url = database_url or os.environ["MINIMAL_DATABASE_URL"]
    app.config["SQLALCHEMY_DATABASE_URI"] = url.replace("postgresql://", "postgresql+psycopg://", 1)
    db = SQLAlchemy(app)

    @app.post("/reports")
    def report():
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        staff_id = db.session.execute(text("SELECT staff_id FROM minimal_tokens WHERE token = :t"),
                                      {"t": token}).scalar()
        if staff_id is None:
            abort(401)
        body = request.get_json()
        new_id = db.session.execute(
            text("INSERT INTO minimal_reports (staff_id, description, lon, lat) "
                 "VALUES (:s, :d, :lon, :lat) RETURNING id"),
            {"s": staff_id, "d": str(body["description"]), "lon": float(body["lon"]), "lat": float(body["lat"])},
        ).scalar()
        db.session.commit()
        return jsonify(id=new_id), 201

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app


def main(argv=None) -> None:
    from gunicorn.app.base import BaseApplication

    from wangge.config import Settings
    from wangge.serving import gunicorn_options

    ap = argparse.ArgumentParser(prog="bench.minimal_app")
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    options = gunicorn_options(Settings(), host=args.host, port=args.port, workers=args.workers,
                               threads=args.threads)
    options["proc_name"] = "wangge-minimal"
    options["loglevel"] = "warning"
    url = args.database_url

    class Minimal(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return create_app(url)

    Minimal().run()


if __name__ == "__main__":
    main()
