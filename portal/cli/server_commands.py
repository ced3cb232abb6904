"""Commands that run or prepare a server: init-db, serve, quickstart, mail-worker,
sync-directory, send-test-email."""

from __future__ import annotations

import os
import secrets

import click

from .. import access, mail
from ..accounts import AccountError, clean_email
from ..accounts import create_user as create
from ..db import database
from ..models import OutboxMail, User
from ..providers import DirectoryUnavailable
from ..providers.sync import sync
from ..schema import migrate
from ..server import serve as run_server
from ..worker import run
from .group import _app, _fail, main


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (safe to run twice)."""
    app = _app()
    with app.app_context():
        applied = migrate()
    click.echo(f"Database ready ({len(applied)} migration(s) applied).")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="HTTP worker processes (default: one per CPU core).",
)
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Threads per worker process.",
)
@click.option("--no-mail-worker", is_flag=True, help="Leave mail to `passgate mail-worker`.")
def serve(host, port, workers, threads, no_mail_worker) -> None:
    """Run the production server (gunicorn; waitress on Windows); also delivers mail."""
    _serve(_app(DATABASE_POOL=True), host, port, workers, threads, not no_mail_worker)


def _serve(app, host: str, port: int, workers: int | None, threads: int, worker: bool) -> None:

    run_server(
        app,
        host,
        port,
        workers=workers,
        threads=threads,
        background_worker=worker,
        announce=click.echo,
    )


@main.command("mail-worker")
@click.option("--once", is_flag=True, help="Deliver what is due, then exit.")
def mail_worker(once) -> None:
    """Resolve recovery requests and deliver queued mail (several app instances)."""

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
        migrate()
        database.connect(reuse_if_open=True)
        top = access.role_names()[0]  # the highest-ranked role: reaches every account
        if not User.select().where(User.role == top).exists():
            user, temp = create("admin", role=top, first_name="First", last_name="Administrator")
            click.echo(
                "\nFirst administrator created — shown once, write it down:\n"
                f"    username: {user.username}\n    temporary password: {temp}\n"
                "You will choose your own password at first sign-in.\n"
            )
    if app.config["MAIL_BACKEND"] == "console":
        click.echo("No PASSGATE_MAIL_SERVER set: emails are printed here, in this terminal.")
    if not no_serve:
        _serve(_app(DATABASE_POOL=True), host, port, None, 4, True)
