"""`flask users create` and `flask members import`."""
from __future__ import annotations

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from lecturehub.core.timeutil import parse_local, utcnow
from lecturehub.core.transaction import in_transaction, savepoint
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
@in_transaction
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
        # The savepoint flushes here, so a taken member number is reported rather than failing the final commit.
        with savepoint():
            user = services.create_user(username, name, Role(role), password, venues, member_no=member_no)
    except services.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    except sa.exc.IntegrityError as exc:
        raise click.ClickException(f"member number {member_no} is taken") from exc
    click.echo(f"created {user.username} ({user.role.value})")


@members_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--password", default=None, help="Initial password for new accounts (else one is generated for the "
              "import); everyone chooses their own at the first sign-in.")
@click.option("--dry-run", is_flag=True, help="Show what would change and write nothing.")
@click.option("--names", type=click.Choice(["refuse", "update", "skip"]), default="refuse", show_default=True,
              help="Rows whose number belongs to someone of another name: refuse the import, update the name, "
                   "or skip those rows.")
@click.option("--effective", "effective_day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Date (Beijing time) from which transfers and leavers take effect; default now.")
@click.option("--mark-missing-left", is_flag=True, help="Members on no row of the file have left the organisation.")
@in_transaction
def import_members_command(path: Path, password: str | None, dry_run: bool, names: str, effective_day,
                           mark_missing_left: bool):
    """Import a roster (.xlsx, .xls or CSV with 姓名, 编号, 分会场 and optionally 角色): all rows or none."""
    if not db.session.scalar(sa.select(sa.func.count(Venue.id))):
        raise click.ClickException("no venues exist yet; create them in the browser (/admin/venues) or run `flask demo`")
    try:
        plan = services.plan_roster(path.name, path.read_bytes())
    except services.RosterError as exc:
        _fail(path, exc.problems)
    for line in preview_lines(plan):
        click.echo(line)
    if dry_run:
        if plan.problems:
            raise click.ClickException(f"{path}: {len(plan.problems)} problems; nothing would be imported")
        click.echo("dry run: nothing was written")
        return
    effective_at = parse_local(effective_day) if effective_day else utcnow()
    choices = {c.row.row: names for c in plan.conflicts} if names != "refuse" else {}
    leaving = {u.id for u in plan.missing} if mark_missing_left else set()
    try:
        with click.progressbar(length=len(plan.new) + len(plan.changes), label="importing", file=sys.stderr) as bar:
            outcome = services.apply_roster_plan(plan, by=None, effective_at=effective_at, name_choices=choices,
                                                 leaving=leaving, password=password, progress=bar.update)
    except services.RosterError as exc:
        _fail(path, exc.problems)
    click.echo(f"created {len(outcome.created)}, updated {len(outcome.updated)}, skipped {len(outcome.skipped)}, "
               f"left {len(outcome.left)}")
    if outcome.created:
        click.echo(f"New accounts sign in with their member number and the password {outcome.initial_password} "
                   "and must choose their own at the first sign-in.")


def _fail(path: Path, problems: list[str]):
    for problem in problems:
        click.echo(problem, err=True)
    raise click.ClickException(f"{path}: nothing was imported ({len(problems)} problems)")


def preview_lines(plan: services.RosterPlan, limit: int = 50) -> list[str]:
    """The preview as text: what a dry run prints and an import prints before it applies."""
    lines = [f"{plan.filename}: {len(plan.new)} new, {len(plan.changes)} changed "
             f"({len(plan.transfers)} transfers, {len(plan.conflicts)} name conflicts), {plan.unchanged} unchanged, "
             f"{len(plan.missing)} not in the file, {len(plan.problems)} problems"]
    lines += [f"  new      row {r.row}: {r.member_no} {r.name} ({'、'.join(v.name for v in r.venues)})"
              for r in plan.new[:limit]]
    if len(plan.new) > limit:
        lines.append(f"  … and {len(plan.new) - limit} more new members")
    for change in plan.changes:
        kind = "conflict" if change.conflict else "changed "
        lines.append(f"  {kind} row {change.row.row}: {change.user.member_no} "
                     + "; ".join(services.describe_change(change)))
    lines += [f"  missing  {u.member_no} {u.name}" for u in plan.missing[:limit]]
    if len(plan.missing) > limit:
        lines.append(f"  … and {len(plan.missing) - limit} more not in the file")
    lines += [f"  problem  {p}" for p in plan.problems]
    return lines
