"""backup and restore (SQLite)."""

from __future__ import annotations

import click

from .. import backup as backups
from .group import _app, _fail, main


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def backup(file, force) -> None:
    """Copy the SQLite database to FILE (mode 0600), consistent while the server runs."""
    try:
        result = backups.backup(_app().config["DATABASE_URL"], file, force=force)
    except backups.BackupError as exc:
        _fail(str(exc))
    click.echo(
        f"Backed up {result.source} to {result.destination} ({result.size:,} bytes, "
        f"{result.users} user(s), integrity ok). Keep the secret key safe too: "
        "passwords cannot be verified without it."
    )


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def restore(file) -> None:
    """Replace the SQLite database with a backup FILE (stop the server first)."""
    try:
        result, kept = backups.restore(_app().config["DATABASE_URL"], file)
    except backups.BackupError as exc:
        _fail(str(exc))
    click.echo(
        f"Restored {result.destination} from {result.source} ({result.users} user(s))."
        + (f" The previous database is kept as {kept}." if kept else "")
        + " Run `passgate init-db` if the backup comes from an older version."
    )
