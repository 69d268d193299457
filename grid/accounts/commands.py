"""``wangge staff`` commands."""
from __future__ import annotations

import sys
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup
from sqlalchemy import select

from grid.accounts.service import create_staff, issue_token
from grid.models import Department, Staff
from wangge.cli import fail
from wangge.errors import ApiError
from wangge.extensions import db

staff_cli = AppGroup("staff", help="Staff accounts.")


@staff_cli.command("create")
@click.option("--username", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--department", help="department code")
@click.password_option()
def staff_create(username, name, roles, department, password):
    """Create a staff account (e.g. the first admin)."""



    dept_id = None
    if department:
        dept_id = db.session.scalar(select(Department.id).where(Department.code == department))
        if dept_id is None:
            click.echo(f"error [not_found]: no department {department}", err=True)
            sys.exit(2)
    try:
        staff = create_staff(db.session, username=username, name=name, password=password, roles=roles,
                             department_id=dept_id)
        db.session.commit()
    except ApiError as err:
        db.session.rollback()
        fail(err)
    click.echo(f"created staff #{staff.id} {username} ({', '.join(staff.roles)})")


@staff_cli.command("token")
@click.argument("username")
@click.option("--days", type=int, default=365, show_default=True, help="lifetime of the token")
@click.option("--client", default="service account", show_default=True)
def staff_token(username, days, client):
    """Issue a long-lived bearer token (e.g. an Open311 api_key for a service account)."""



    staff = db.session.scalar(select(Staff).where(Staff.username == username))
    if staff is None or not staff.active:
        click.echo(f"error [not_found]: no active staff {username}", err=True)
        sys.exit(2)
    secret, token = issue_token(db.session, staff, ttl_hours=days * 24, client=client)
    db.session.commit()
    click.echo(secret)
    # in the staff member's zone, like every time the API answers with
    click.echo(f"expires {token.expires_at.astimezone(ZoneInfo(staff.timezone)).isoformat()}", err=True)


commands = [staff_cli]
