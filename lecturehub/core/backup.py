"""Backups of the configured database, taken and restored while the site keeps running.

A copy of the database file (or a `pg_dump` of a busy database with plain SQL) taken while members
check in can be torn: half a transaction, or pages from two moments. So each backend uses the tool
its engine provides for a consistent snapshot:

- SQLite: the online backup API (`sqlite3.Connection.backup`), which copies the pages of one
  consistent read transaction; writers in WAL mode carry on meanwhile.
- PostgreSQL: `pg_dump --format=custom`, which reads in one repeatable-read snapshot; its custom
  format is what `pg_restore` needs to clean and recreate objects selectively.

Restoring checks the file first (readable, the right kind, a LectureHub database) and refuses
anything else with a `BackupError` whose message is meant for the operator, so that a wrong path
never wipes the live database.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote, urlencode

import sqlalchemy as sa

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"  # the first bytes of every pg_dump custom-format archive
# Tables a LectureHub backup must contain; anything without them is some other database.
REQUIRED_TABLES = ("alembic_version", "user", "lecture", "attendance_record")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, for the operator."""


def database_kind(url: str | sa.URL) -> str:
    """"sqlite" or "postgresql" for a SQLAlchemy URL; BackupError for any other database."""
    backend = sa.make_url(url).get_backend_name()
    if backend not in (SQLITE, POSTGRESQL):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {backend}")
    return backend


def backup_kind(path: Path) -> str:
    """Which database a backup file came from, by its first bytes; BackupError if neither."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise BackupError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BackupError(f"{path}: is a directory, not a backup file") from None
    except OSError as exc:
        raise BackupError(f"{path}: cannot be read ({exc.strerror})") from None
    if head.startswith(SQLITE_MAGIC):
        return SQLITE
    if head.startswith(PGDUMP_MAGIC):
        return POSTGRESQL
    raise BackupError(f"{path}: not a LectureHub backup (neither a SQLite database nor a pg_dump custom archive)")


def backup(url: str | sa.URL, path: Path) -> None:
    """Write a consistent backup of the database at `url` to `path`, replacing any file there.

    The backup is written beside `path` under a temporary name and renamed at the end, so a failed
    or interrupted backup never leaves a truncated file that looks like a good one.
    """
    path = Path(path)
    kind = database_kind(url)
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent}: no such directory")
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    try:
        if kind == SQLITE:
            _sqlite_backup(url, Path(temporary))
        else:
            _pg_dump(url, Path(temporary))
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def check_backup(url: str | sa.URL, path: Path) -> None:
    """Refuse (BackupError) a file that is missing, not a backup, damaged, from the other kind of
    database or from another application; touches nothing."""
    path = Path(path)
    kind = database_kind(url)
    found = backup_kind(path)
    if found != kind:
        raise BackupError(f"{path} is a {_label(found)} backup, but the configured database is {_label(kind)}")
    if kind == SQLITE:
        _check_sqlite_backup(path).close()
    else:
        _check_pg_archive(path)


def restore(url: str | sa.URL, path: Path) -> None:
    """Replace the content of the database at `url` with the backup at `path`.

    The file is checked before anything is touched; then the replacement happens in one step
    (one SQLite backup-API copy, or one pg_restore transaction), so a failure leaves the database
    as it was. The schema is the backup's: run `flask db upgrade` afterwards if it is older.
    """
    path = Path(path)
    check_backup(url, path)
    if database_kind(url) == SQLITE:
        _sqlite_restore(url, path)
    else:
        _pg_restore(url, path)


def _label(kind: str) -> str:
    return {SQLITE: "SQLite", POSTGRESQL: "PostgreSQL"}[kind]


# --- SQLite ------------------------------------------------------------------------------------------

def _sqlite_connect(url: str | sa.URL) -> sqlite3.Connection:
    """A plain sqlite3 connection to the file a SQLAlchemy URL names (also `file:...?uri=true` URLs)."""
    parsed = sa.make_url(url)
    database = parsed.database or ""
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    if parsed.query.get("uri") == "true":
        return sqlite3.connect(database, uri=True, timeout=30)
    if not Path(database).exists():  # sqlite3 would quietly create an empty one
        raise BackupError(f"{database}: the configured SQLite database does not exist")
    return sqlite3.connect(database, timeout=30)


def _sqlite_backup(url: str | sa.URL, target: Path) -> None:
    source = _sqlite_connect(url)
    destination = sqlite3.connect(target)
    try:
        # One step (pages=-1): the copy is one read transaction, so it is consistent even while
        # others write. Stepping would restart on every concurrent write and might never finish.
        source.backup(destination)
        # The copy inherits WAL mode from the header; a rollback journal makes it one self-contained file.
        destination.execute("PRAGMA journal_mode=DELETE")
        result = destination.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise BackupError(f"the backup failed its integrity check: {result}")
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup failed: {exc}") from exc
    finally:
        destination.close()
        source.close()


def _check_sqlite_backup(path: Path) -> sqlite3.Connection:
    """Open a SQLite backup read-only and make sure it is whole and a LectureHub database."""
    try:
        connection = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
        result = connection.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: not a usable SQLite backup ({exc})") from None
    if result != "ok":
        connection.close()
        raise BackupError(f"{path}: the backup is damaged ({result})")
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        connection.close()
        raise BackupError(f"{path}: not a LectureHub database (no table {', '.join(missing)})")
    return connection


def _sqlite_restore(url: str | sa.URL, path: Path) -> None:
    source = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    destination = _sqlite_connect(url)
    try:
        # The backup API writes into the live file under SQLite's own locks: running workers see
        # either the old or the new database, never a file being copied over underneath them.
        source.backup(destination)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite restore failed, the database is unchanged: {exc}") from exc
    finally:
        destination.close()
        source.close()


# --- PostgreSQL --------------------------------------------------------------------------------------

def libpq_connection(url: str | sa.URL) -> tuple[str, dict[str, str]]:
    """A libpq URI for pg_dump/pg_restore's --dbname, and the environment to run them with.

    The SQLAlchemy URL names the driver (`postgresql+psycopg://`), which libpq does not accept.
    The password goes into PGPASSWORD rather than the URI, so it never appears in the process list.
    """
    parsed = sa.make_url(url)
    netloc = quote(parsed.username or "", safe="")
    if parsed.host:
        netloc = f"{netloc}@{quote(parsed.host, safe='')}" if netloc else quote(parsed.host, safe="")
    elif netloc:
        netloc = f"{netloc}@"
    if parsed.port:
        netloc += f":{parsed.port}"
    query = {key: value if isinstance(value, str) else value[-1] for key, value in parsed.query.items()}
    uri = f"postgresql://{netloc}/{quote(parsed.database or '', safe='')}"
    if query:
        uri += "?" + urlencode(query)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = parsed.password
    return uri, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (it comes with the PostgreSQL client tools)")
    return found


def _run(command: list[str], env: dict[str, str], failure: str) -> subprocess.CompletedProcess:
    # A list of arguments, never a shell: nothing in the URL can be read as a shell command.
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{failure}: {result.stderr.strip() or f'exit status {result.returncode}'}")
    return result


def _pg_dump(url: str | sa.URL, target: Path) -> None:
    uri, env = libpq_connection(url)
    _run([_tool("pg_dump"), "--format=custom", "--file", str(target), "--dbname", uri], env, "pg_dump failed")


def _check_pg_archive(path: Path) -> None:
    # --list reads the archive's table of contents without touching any database: a truncated or
    # foreign archive is refused here, before anything is dropped.
    listing = _run([_tool("pg_restore"), "--list", str(path)], dict(os.environ),
                   f"{path}: not a usable pg_dump archive").stdout
    missing = [name for name in REQUIRED_TABLES if f" TABLE public {name} " not in listing]
    if missing:
        raise BackupError(f"{path}: not a LectureHub database (no table {', '.join(missing)})")


def _pg_restore(url: str | sa.URL, path: Path) -> None:
    uri, env = libpq_connection(url)
    # One transaction: if anything fails the database is left exactly as it was.
    _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
          "--dbname", uri, str(path)], env, f"pg_restore of {path} failed, the database is unchanged")
