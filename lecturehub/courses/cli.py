"""`flask content import PATH`."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from lecturehub.core.transaction import in_transaction

from .archive import members_who_would_get_makeup, undecided_past_lectures
from .content import ContentError, import_content, read_bundle

content_cli = AppGroup("content", help="Lecture content in the content/ format.")


@content_cli.command("import")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--archive/--no-archive", "archive_past", default=None,
              help="New lectures that already ended: archive lectures (content only, no attendance) or not. "
                   "Required when the content has such lectures and their lecture.yaml does not say `archive:`.")
@in_transaction
def import_command(path: Path, archive_past: bool | None):
    """Import courses, lectures, key points, materials and quizzes; all or nothing."""
    try:
        if archive_past is None:
            past = undecided_past_lectures(read_bundle(path))
            # With nobody to count absent (a new organisation), either answer gives the same records.
            affected = members_who_would_get_makeup(past)
            if affected:
                raise click.ClickException(
                    f"{len(past)} new lecture(s) ended in the past ({', '.join(lec.slug for lec in past)}). "
                    f"Imported as ordinary lectures, {affected} member(s) would count "
                    "as absent and get make-up tasks. Choose --archive (content only, no attendance) or "
                    "--no-archive, or say `archive: true` or `archive: false` in lecture.yaml; nothing was imported.")
        summary = import_content(path, archive_past)
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
