"""The ``passgate`` command line, run as the console script would run it."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from portal.cli import main

from ..helpers import PG_URL, says


@pytest.fixture
def env(tmp_path, app):
    # ``app`` prepares the database (on PostgreSQL: empty tables in the shared test DB).
    url = PG_URL or f"sqlite:///{tmp_path}/passgate.db"
    return {
        "PASSGATE_SECRET_KEY": "test-secret-key-not-for-production",
        "PASSGATE_DATABASE_URL": url,
        "PASSGATE_BASE_URL": "http://localhost",
        "PASSGATE_BCRYPT_ROUNDS": "4",
        "PASSGATE_INSTANCE": str(tmp_path / "instance"),
    }


def run(env, *args, input=None):
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def test_init_db_is_safe_twice(env):
    first = run(env, "init-db")
    second = run(env, "init-db")
    assert first.exit_code == 0 and second.exit_code == 0
    assert "0 migration(s) applied" in second.output


def test_create_user_with_password_from_stdin(env, make_app):
    assert run(env, "init-db").exit_code == 0
    result = run(
        env,
        "create-user",
        "boss",
        "--role",
        "admin",
        "--email",
        "boss@example.test",
        "--first-name",
        "Ada",
        "--last-name",
        "Boss",
        "--team",
        "Office",
        "--password-stdin",
        input="violet lantern harbour 1987\n",
    )
    assert result.exit_code == 0, result.output
    from ..helpers import login

    app = make_app(DATABASE_URL=env["PASSGATE_DATABASE_URL"])
    assert login(app.test_client(), "boss").status_code == 303


def test_create_user_without_email_prints_a_temporary_password_once(env):
    run(env, "init-db")
    result = run(env, "create-user", "tina")
    assert result.exit_code == 0
    assert "Temporary password" in result.output


def test_create_user_with_email_queues_an_invitation(env, make_app):
    run(env, "init-db")
    result = run(env, "create-user", "newbie", "--email", "newbie@example.test")
    assert result.exit_code == 0 and "invitation" in result.output
    from portal.db import database
    from portal.models import OutboxMail

    app = make_app(DATABASE_URL=env["PASSGATE_DATABASE_URL"])
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert OutboxMail.get().kind == "invite"


@pytest.mark.parametrize(
    "args, reason",
    [
        (["create-user", "x", "--role", "king"], "role"),
        (["create-user", "bad name"], "username"),
        (["create-user", "ok", "--email", "not-an-email"], "email"),
        (["create-user", "weak", "--password-stdin"], "password"),
    ],
)
def test_bad_input_exits_non_zero_with_a_reason(env, args, reason):
    run(env, "init-db")
    result = CliRunner().invoke(main, args, env=env, input="short\n")
    assert result.exit_code != 0
    assert reason in result.output


def test_duplicate_user_is_refused(env):
    run(env, "init-db")
    run(env, "create-user", "alice", "--email", "alice@example.test")
    result = CliRunner().invoke(main, ["create-user", "ALICE"], env=env)
    assert result.exit_code != 0 and says(result.output, "USER_EXISTS")


def test_missing_secret_key_is_a_clear_error(env):
    env = {**env, "PASSGATE_SECRET_KEY": ""}
    result = CliRunner().invoke(main, ["init-db"], env=env)
    assert result.exit_code != 0 and "secret key" in result.output.lower()


def test_send_test_email_through_real_smtp(env, smtp_server):
    env = {**env, "PASSGATE_MAIL_SERVER": "127.0.0.1", "PASSGATE_MAIL_PORT": str(smtp_server.port)}
    run(env, "init-db")
    result = run(env, "send-test-email", "ops@example.test")
    assert result.exit_code == 0, result.output
    assert smtp_server.messages[0][0] == ["ops@example.test"]


def test_send_test_email_reports_failure(env):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**env, "PASSGATE_MAIL_SERVER": "127.0.0.1", "PASSGATE_MAIL_PORT": str(port)}
    run(env, "init-db")
    result = CliRunner().invoke(main, ["send-test-email", "ops@example.test"], env=env)
    assert result.exit_code != 0 and "not delivered" in result.output


def test_quickstart_prepares_an_instance_and_a_first_admin(tmp_path):
    env = {
        "PASSGATE_INSTANCE": str(tmp_path / "inst"),
        "PASSGATE_BCRYPT_ROUNDS": "4",
        "PASSGATE_SECRET_KEY": None,
        "PASSGATE_DATABASE_URL": None,
    }
    result = CliRunner().invoke(main, ["quickstart", "--no-serve"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert os.path.exists(tmp_path / "inst" / "passgate.cfg")
    assert "temporary password:" in result.output
    again = CliRunner().invoke(main, ["quickstart", "--no-serve"], env=env)
    assert "temporary password:" not in again.output  # the first admin is created once


def test_first_run_creates_the_database_folder(tmp_path):
    env = {
        "PASSGATE_SECRET_KEY": "k",
        "PASSGATE_INSTANCE": str(tmp_path / "new" / "inst"),
        "PASSGATE_DATABASE_URL": None,
    }
    result = CliRunner().invoke(main, ["init-db"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "new" / "inst" / "passgate.db").exists()


def test_unreachable_database_is_a_one_line_error(tmp_path):
    env = {
        "PASSGATE_SECRET_KEY": "k",
        "PASSGATE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    result = CliRunner().invoke(main, ["init-db"], env=env)
    assert result.exit_code != 0
    assert result.output.startswith("Error: database:") and "Traceback" not in result.output
