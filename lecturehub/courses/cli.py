"""`flask content import PATH`."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from .content import ContentError, import_content

content_cli = AppGroup("content", help="Lecture content in the content/ format.")


@content_cli.command("import")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def import_command(path: Path):
    """Import courses, lectures, key points, materials and quizzes; all or nothing."""
    try:
        summary = import_content(path)
    except ContentError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"nothing was imported ({len(exc.problems)} problems)") from exc
    click.echo(
        f"imported {summary.courses} course(s), {summary.lectures} lecture(s), {summary.key_points} key point(s), "
        + "".join(f"{count} {part}, " for part, count in summary.parts.items())
        + f"{summary.materials} material(s): "
        f"{summary.created} created, {summary.updated} updated"
    )
