"""The ``passgate`` command line. Every command exits non-zero with a one-line reason."""

from __future__ import annotations

import os
import secrets
import sys

import click

INSTANCE_HELP = "Instance folder (default: ./instance, or $PASSGATE_INSTANCE)."


def _app(**overrides):
    from . import create_app

    return create_app(overrides or None)


def _fail(message: str) -> None:
    raise click.ClickException(message)


class PassgateGroup(click.Group):
    """Turn database failures into a one-line reason and a non-zero exit."""

    def invoke(self, ctx):
        from peewee import DatabaseError, InterfaceError

        try:
            return super().invoke(ctx)
        except (DatabaseError, InterfaceError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise click.ClickException(f"database: {reason}") from None


@click.group(cls=PassgateGroup)
def main() -> None:
    """Passgate: password self-service and account administration."""


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (safe to run twice)."""
    app = _app()
    with app.app_context():
        from .schema import migrate

        applied = migrate()
    click.echo(f"Database ready ({len(applied)} migration(s) applied).")


@main.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "manager", "user"]), default="user")
@click.option("--email", default=None)
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.option("--team", default=None)
@click.option("--language", type=click.Choice(["en", "fr"]), default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(username, role, email, first_name, last_name, team, language,
                password_stdin) -> None:
    """Create an account (the first administrator included)."""
    app = _app()
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            _fail("no password on standard input")
    with app.test_request_context(), app.app_context():
        from . import mail
        from .accounts import AccountError
        from .accounts import create_user as create
        from .db import database

        database.connect(reuse_if_open=True)
        try:
            user, temp = create(username, role=role, email=email, first_name=first_name,
                                last_name=last_name, team=team, password=password,
                                language=language)
        except AccountError as exc:
            _fail(f"{exc.field}: {exc}")
        mail.wake()
    if temp:
        click.echo(f"Created {user.username}. Temporary password (shown once, must be changed "
                   f"at first sign-in): {temp}")
    elif password is None:
        click.echo(f"Created {user.username}. An invitation email to {user.email} is queued.")
    else:
        click.echo(f"Created {user.username}.")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="HTTP worker processes (default: one per CPU core).")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker process.")
@click.option("--no-mail-worker", is_flag=True, help="Leave mail to `passgate mail-worker`.")
def serve(host, port, workers, threads, no_mail_worker) -> None:
    """Run the production server (gunicorn; waitress on Windows); also delivers mail."""
    _serve(_app(DATABASE_POOL=True), host, port, workers, threads, not no_mail_worker)


def _serve(app, host: str, port: int, workers: int | None, threads: int, worker: bool) -> None:
    from .server import serve as run_server

    run_server(app, host, port, workers=workers, threads=threads, background_worker=worker,
               announce=click.echo)


@main.command("mail-worker")
@click.option("--once", is_flag=True, help="Deliver what is due, then exit.")
def mail_worker(once) -> None:
    """Resolve recovery requests and deliver queued mail (several app instances)."""
    from .worker import run

    app = _app()
    run(app, once=once)
    if once:
        click.echo("Mail queue processed.")


@main.command("sync-directory")
def sync_directory() -> None:
    """Bring directory accounts into the user list (new, changed, vanished)."""
    app = _app()
    if not app.config.get("LDAP_URL"):
        _fail("no directory configured (set PASSGATE_LDAP_URL)")
    from .db import database
    from .providers import DirectoryUnavailable
    from .providers.sync import sync

    with app.app_context():
        database.connect(reuse_if_open=True)
        try:
            counts = sync()
        except DirectoryUnavailable as exc:
            _fail(f"directory unavailable: {exc.reason}")
        finally:
            database.close()
    click.echo("Directory synchronised: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + ".")


@main.command("send-test-email")
@click.argument("address")
def send_test_email(address) -> None:
    """Send a test email now and report the outcome."""
    app = _app()
    with app.test_request_context(), app.app_context():
        from . import mail
        from .accounts import AccountError, clean_email
        from .db import database
        from .models import OutboxMail

        database.connect(reuse_if_open=True)
        try:
            recipient = clean_email(address)
        except AccountError as exc:
            _fail(str(exc))
        if not recipient:
            _fail("an address is required")
        row = mail.queue("test", recipient, language=None)
        mail.deliver_due()  # this row only needs delivering
        row = OutboxMail.get_by_id(row.id)
        if row.status != "sent":
            _fail(f"not delivered: {row.last_error or row.status} (it stays queued for retry)")
    click.echo(f"Test email sent to {recipient}.")


@main.command("quickstart")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Prepare everything but do not start the server.")
def quickstart(host, port, no_serve) -> None:
    """Instance folder and secret key, database, a first administrator, then serve."""
    instance = os.environ.get("PASSGATE_INSTANCE") or os.path.join(os.getcwd(), "instance")
    os.makedirs(instance, exist_ok=True)
    cfg = os.path.join(instance, "passgate.cfg")
    if not os.path.exists(cfg) and not os.environ.get("PASSGATE_SECRET_KEY"):
        fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"SECRET_KEY = {secrets.token_urlsafe(48)!r}\n")
            fh.write(f"BASE_URL = 'http://{host}:{port}'\n")
        click.echo(f"Created {cfg} with a new secret key.")
    app = _app()
    with app.test_request_context(), app.app_context():
        from .accounts import create_user as create
        from .db import database
        from .models import User
        from .schema import migrate

        migrate()
        database.connect(reuse_if_open=True)
        if not User.select().where(User.role == "admin").exists():
            user, temp = create("admin", role="admin", first_name="First", last_name="Administrator")
            click.echo("\nFirst administrator created — shown once, write it down:\n"
                       f"    username: {user.username}\n    temporary password: {temp}\n"
                       "You will choose your own password at first sign-in.\n")
    if app.config["MAIL_BACKEND"] == "console":
        click.echo("No PASSGATE_MAIL_SERVER set: emails are printed here, in this terminal.")
    if not no_serve:
        _serve(_app(DATABASE_POOL=True), host, port, None, 4, True)


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
        from . import mail
        from .db import database
        from .import_export.service import import_users as run_import

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
        from .db import database
        from .import_export.service import report_csv
        from .users.search import Search

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
        from . import audit, throttle
        from .accounts import find
        from .db import database

        database.connect(reuse_if_open=True)
        account = find(user)
        if account is None:
            _fail(f"no user {user!r}")
        with database.atomic():
            throttle.clear(account)
            audit.record("admin.unlock", target=account, ip="", detail={"via": "cli"})
        click.echo(f"Unlocked {account.username}.")


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def backup(file, force) -> None:
    """Copy the SQLite database to FILE (mode 0600), consistent while the server runs."""
    from .backup import BackupError
    from .backup import backup as run

    try:
        result = run(_app().config["DATABASE_URL"], file, force=force)
    except BackupError as exc:
        _fail(str(exc))
    click.echo(f"Backed up {result.source} to {result.destination} ({result.size:,} bytes, "
               f"{result.users} user(s), integrity ok). Keep the secret key safe too: "
               "passwords cannot be verified without it.")


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def restore(file) -> None:
    """Replace the SQLite database with a backup FILE (stop the server first)."""
    from .backup import BackupError
    from .backup import restore as run

    try:
        result, kept = run(_app().config["DATABASE_URL"], file)
    except BackupError as exc:
        _fail(str(exc))
    click.echo(f"Restored {result.destination} from {result.source} ({result.users} user(s))."
               + (f" The previous database is kept as {kept}." if kept else "")
               + " Run `passgate init-db` if the backup comes from an older version.")
