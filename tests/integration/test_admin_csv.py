"""User report (CSV export) and CSV import (web and command line)."""

from __future__ import annotations

import csv
import io

from click.testing import CliRunner

from portal.db import database
from portal.models import OutboxMail, User

from ..helpers import audit_actions, base_overrides, body, csrf_of, login, people, says, upload

GOOD = (
    "username,email,first_name,last_name,role,team,language\n"
    "ivan,ivan@example.test,Ivan,Ives,user,A,fr\n"
    "judy,,Judy,Jones,user,B,\n"
)
BAD = GOOD + "ALICE,alice2@example.test,Dup,Licate,user,A,en\n" + "kim,not-an-email,,,boss,,de\n"


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_export_escapes_formulas_and_follows_filters(app, client, make_user):
    people(make_user)
    make_user("evil", first_name='=HYPERLINK("http://x")', last_name="+1", team="A")
    login(client, "admin")
    r = client.get("/admin/users/export.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = rows_of(r)
    header = rows[0]
    for column in (
        "provider",
        "email_present",
        "status",
        "temp_password",
        "last_sign_in",
        "last_reset",
    ):
        assert column in header
    evil = next(row for row in rows if row[1] == "evil")
    assert evil[header.index("first_name")] == '\'=HYPERLINK("http://x")'
    assert evil[header.index("last_name")] == "'+1"
    assert "$2b$" not in r.get_data(as_text=True)
    filtered = rows_of(client.get("/admin/users/export.csv?q=ali"))
    assert [row[1] for row in filtered[1:]] == ["alice"]
    assert audit_actions(app, "admin.export")


def test_export_for_manager_is_team_only(app, client, make_user):
    people(make_user)
    login(client, "mgrA")
    names = sorted(row[1] for row in rows_of(client.get("/admin/users/export.csv"))[1:])
    assert names == ["alice", "carol"]


def test_export_marks_pending_temp_password(app, client, make_user):
    people(make_user)
    make_user("tina", email="", password=None)  # gets a temporary password
    login(client, "admin")
    rows = rows_of(client.get("/admin/users/export.csv"))
    header = rows[0]
    tina = next(row for row in rows if row[1] == "tina")
    assert tina[header.index("temp_password")] == "pending"
    assert tina[header.index("email_present")] == "no"


def test_import_all_or_nothing(app, client, make_user, outbox):
    people(make_user)
    login(client, "admin")
    assert client.get("/admin/users/import").status_code == 200
    r = upload(client, BAD)
    text = body(r)
    assert r.status_code == 422 and says(text, "IMPORT_NOTHING")
    assert "Line 4" in text and "Line 5" in text and "Line 2" not in text
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert User.get_or_none(User.username_key == "ivan") is None
        assert OutboxMail.select().count() == 0
    r = upload(client, GOOD)
    text = body(r)
    assert r.status_code == 200 and says(text, "USERS_IMPORTED", num=2)
    with app.app_context():
        database.connect(reuse_if_open=True)
        ivan = User.get(User.username_key == "ivan")
        assert ivan.status == "invited" and ivan.language == "fr" and ivan.team.name == "A"
        judy = User.get(User.username_key == "judy")
        assert judy.must_change  # no email: a temporary password shown once
    outbox.deliver()
    assert [m.recipients for m in outbox] == [["ivan@example.test"]]


def test_import_rejects_garbage(app, client, make_user):
    people(make_user)
    login(client, "admin")
    assert upload(client, "name,mail\nx,y\n").status_code == 422
    r = upload(client, "")
    assert r.status_code == 422
    page = client.get("/admin/users/import")
    r = client.post(
        "/admin/users/import",
        data={"csrf_token": csrf_of(page), "file": (io.BytesIO(b"\xff\xfe\x00bad"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "UTF-8" in body(r)


def test_import_needs_create_permission(app, client, make_user):
    people(make_user)
    login(client, "alice")
    assert client.get("/admin/users/import").status_code == 403


def test_cli_import_and_export(app, make_app, tmp_path, make_user):
    make_user("admin", role="admin")
    from portal import cli

    env = {
        f"PASSGATE_{k}": str(v)
        for k, v in base_overrides(tmp_path).items()
        if k in ("SECRET_KEY", "DATABASE_URL", "BASE_URL", "BCRYPT_ROUNDS")
    }
    env["PASSGATE_INSTANCE"] = str(tmp_path / "instance")
    runner = CliRunner()
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    result = runner.invoke(cli.main, ["import-users", str(bad)], env=env)
    assert result.exit_code != 0 and "line 5 (role)" in result.output
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    result = runner.invoke(cli.main, ["import-users", str(good)], env=env)
    assert result.exit_code == 0, result.output
    assert "judy: temporary password" in result.output and "Imported 2 user(s)." in result.output
    out = tmp_path / "report.csv"
    result = runner.invoke(cli.main, ["export-users", str(out)], env=env)
    assert result.exit_code == 0, result.output
    names = sorted(row[1] for row in csv.reader(io.StringIO(out.read_text().lstrip("\ufeff"))))
    assert names == ["admin", "ivan", "judy", "username"]
    binary = tmp_path / "latin1.csv"
    binary.write_bytes("username\nzoé\n".encode("latin-1"))
    result = runner.invoke(cli.main, ["import-users", str(binary)], env=env)
    assert result.exit_code == 1 and "UTF-8" in result.output
    result = runner.invoke(cli.main, ["export-users"], env=env)
    assert result.exit_code == 0 and "ivan@example.test" in result.output
