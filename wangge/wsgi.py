"""WSGI entry point for production servers, e.g. ``gunicorn -w 4 wangge.wsgi:app``."""
from . import create_app

app = create_app()
