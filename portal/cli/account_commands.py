"""Commands about accounts: create-user, import-users, export-users, unlock."""

from __future__ import annotations

import os
import sys

import click

from .. import audit, mail, throttle
from ..accounts import AccountError, find
from ..accounts import create_user as create
from ..db import database
from ..import_export.service import import_users as run_import
from ..import_export.service import report_csv
from ..users.search import Search
from .group import _app, _fail, main


@main.command("create-user")
@click.argument("username")
@click.option("--role", default=None, help="A role of the role table (default: the lowest).")
@click.option("--email", default=None)
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.option("--team", default=None)
@click.option("--language", type=click.Choice(["en", "fr"]), default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(
    username, role, email, first_name, last_name, team, language, password_stdin
) -> None:
    """Create an account (the first administrator included)."""
    app = _app()
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            _fail("no password on standard input")
    with app.test_request_context(), app.app_context():
        database.connect(reuse_if_open=True)
        try:
            user, temp = create(
                username,
                role=role,
                email=email,
                first_name=first_name,
                last_name=last_name,
                team=team,
                password=password,
                language=language,
            )
        except AccountError as exc:
            _fail(f"{exc.field}: {exc}")
        mail.wake()
    if temp:
        click.echo(
            f"Created {user.username}. Temporary password (shown once, must be changed "
            f"at first sign-in): {temp}"
        )
    elif password is None:
        click.echo(f"Created {user.username}. An invitation email to {user.email} is queued.")
    else:
        click.echo(f"Created {user.username}.")


@main.command("import-users")
@click.argument("csv_file", type=click.File("rb"))
def import_users(csv_file) -> None:
    """Import users from CSV (username,email,first_name,last_name,role,team,language).

    Every line is checked first; if any is invalid nothing is imported.
    """
    try:
        text = csv_file.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        _fail("the file is not UTF-8 text; save it as CSV (UTF-8)")
    app = _app()
    with app.test_request_context(), app.app_context():
        database.connect(reuse_if_open=True)
        result = run_import(text)
        if not result.ok:
            for line, column, message in result.errors:
                click.echo(f"line {line}{f' ({column})' if column else ''}: {message}", err=True)
            _fail(f"nothing imported: {len(result.errors)} error(s)")
        mail.wake()
        for user, temp in result.created:
            if temp:
                click.echo(f"{user.username}: temporary password (shown once): {temp}")
            else:
                click.echo(f"{user.username}: invitation queued to {user.email}")
    click.echo(f"Imported {len(result.created)} user(s).")


@main.command("export-users")
@click.argument("csv_file", required=False, type=click.Path(dir_okay=False, writable=True))
def export_users(csv_file) -> None:
    """Write the user report (CSV) to FILE, or to standard output."""
    app = _app()
    with app.test_request_context(), app.app_context():
        database.connect(reuse_if_open=True)
        chunks = report_csv(None, Search())  # the operator: every account
        if csv_file:
            fd = os.open(csv_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                for chunk in chunks:
                    fh.write(chunk)
            click.echo(f"Wrote {csv_file}.", err=True)
        else:
            for chunk in chunks:
                click.echo(chunk, nl=False)


@main.command("unlock")
@click.argument("user")
def unlock(user) -> None:
    """Lift the sign-in lock of USER (username or email): for the quick-start administrator
    who has no email to recover with."""
    app = _app()
    with app.test_request_context(), app.app_context():
        database.connect(reuse_if_open=True)
        account = find(user)
        if account is None:
            _fail(f"no user {user!r}")
        with database.atomic():
            throttle.clear(account)
            audit.record("admin.unlock", target=account, ip="", detail={"via": "cli"})
        click.echo(f"Unlocked {account.username}.")
