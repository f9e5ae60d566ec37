"""`flask backup PATH` and `flask restore PATH`: see lecturehub.core.backup for how and why."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from lecturehub.extensions import db

from . import backup as backups
from .transaction import in_transaction


def _database_url():
    return db.engine.url


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
@in_transaction
def backup_command(path: Path) -> None:
    """Write a consistent backup of the configured database to PATH (safe while the site runs)."""
    try:
        backups.backup(_database_url(), path)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backup of the {db.engine.dialect.name} database written to {path}")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
@in_transaction
def restore_command(path: Path, yes: bool) -> None:
    """Replace the configured database's content with the backup in PATH."""
    url = _database_url()
    try:
        # Check the file before asking, so the question is only put about a usable backup.
        backups.check_backup(url, path)
        if not yes:
            click.confirm(f"Replace everything in the database {url.render_as_string(hide_password=True)} "
                          f"with the backup {path}?", abort=True)
        db.engine.dispose()  # this process's own connections must not hold anything across the restore
        backups.restore(url, path)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    current_app.logger.info("database restored from %s", path)
    click.echo(f"Restored the database from {path}. Run `flask db upgrade` if the backup is older than this release.")
