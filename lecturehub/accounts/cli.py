"""`flask users create` and `flask members import`."""
from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from lecturehub.extensions import db
from lecturehub.venues.models import Venue

from . import services
from .models import Role

users_cli = AppGroup("users", help="Manage accounts.")
members_cli = AppGroup("members", help="Import member rosters.")


@users_cli.command("create")
@click.argument("username")
@click.option("--name", required=True, help="Display name (姓名).")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.MEMBER.value, show_default=True)
@click.option("--venue", "venue_labels", multiple=True, help="Venue code or name; repeat for several.")
@click.option("--member-no", default=None, help="Member number (编号).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_user_command(username, name, role, venue_labels, member_no, password):
    """Create an account."""
    lookup = services.venues_by_label()
    venues = []
    for label in venue_labels:
        venue = lookup.get(label.lower())
        if venue is None:
            raise click.ClickException(f"unknown venue: {label}")
        venues.append(venue)
    try:
        user = services.create_user(username, name, Role(role), password, venues, member_no=member_no)
        db.session.commit()
    except services.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    except sa.exc.IntegrityError as exc:
        db.session.rollback()
        raise click.ClickException(f"member number {member_no} is taken") from exc
    click.echo(f"created {user.username} ({user.role.value})")


@members_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--password", default=None, help="Initial password for new accounts (else one is generated each).")
def import_members_command(path: Path, password: str | None):
    """Import a roster (CSV or XLSX with columns 姓名, 编号, 分会场, 角色): all rows or none."""
    if not db.session.scalar(sa.select(sa.func.count(Venue.id))):
        raise click.ClickException("no venues exist yet; run `flask demo` or create venues first")
    try:
        outcome = services.import_roster(path.name, path.read_bytes(), password)
    except services.RosterError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"{path}: nothing was imported ({len(exc.problems)} problems)") from exc
    click.echo(f"created {len(outcome.created)}, updated {len(outcome.updated)}")
    for user, initial in outcome.created:
        click.echo(f"  {user.username}\t{user.name}\t{initial}")
    if outcome.created:
        click.echo("New accounts must change their password at first sign-in.")
