"""Directory (SSO) accounts against a real OpenLDAP server (slapd with ppolicy).

Every test gets its own slapd (tests/ldap_server.py), seeded with dora (mail, team
"Year 5"), eli (no mail) and fay. What the directory holds is checked with independent
binds and reads, not through Passgate's code.
"""

from __future__ import annotations

import re

import pytest

from portal.auth.forms import PROVIDERS
from portal.db import database
from portal.models import LoginThrottle, ResetToken, User
from portal.policy import Policy, _error_text
from portal.users.labels import PROVIDER_LABELS

from ..helpers import (
    PASSWORD,
    audit_actions,
    csrf_of,
    english,
    login,
    normalize,
    post_form,
    prepare_database,
    says,
)
from ..ldap_server import GROUPS, Slapd

DORA = "dora directory pass 1"
NEW = "ocean breeze kettle 2042"
LINK_RE = re.compile(r"http://localhost/password/reset/([A-Za-z0-9_\-]+)")
HX = {"HX-Request": "true"}
TEMP_RE = re.compile(r'<input type="hidden" name="password" value="([^"]+)">')


@pytest.fixture
def slapd(tmp_path):
    try:
        server = Slapd(tmp_path / "slapd").setup().start()
    except Exception as exc:  # a missing or broken slapd fails the test, never skips it
        pytest.fail(f"could not start slapd: {exc}")
    yield server
    server.stop()


@pytest.fixture
def app(make_app, slapd):
    app = make_app(**slapd.settings(LDAP_ATTR_TEAM=GROUPS))
    prepare_database(app)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def sso_login(client, identifier, password):
    return login(client, identifier, password, provider="sso")


def row(app, username) -> User | None:
    with app.app_context():
        database.connect(reuse_if_open=True)
        user = User.get_or_none(User.username_key == username)
        database.close()
        return user


# --- sign-in -----------------------------------------------------------------------------


def test_sign_in_page_offers_the_provider_choice_in_both_languages(app, client):
    passgate, sso = (english(app, label) for _name, label in PROVIDERS)
    body = client.get("/login?lang=en").get_data(as_text=True)
    assert 'name="provider"' in body
    assert passgate in body and sso in body
    body = client.get("/login?lang=fr").get_data(as_text=True)
    assert 'name="provider"' in body
    assert passgate not in body and sso not in body
    assert "(SSO)" in body  # the French label keeps the acronym users know
    forgot = client.get("/password/forgot?lang=en").get_data(as_text=True)
    assert 'name="provider"' in forgot and sso in forgot


def test_sign_in_by_username_creates_the_local_row(app, client):
    response = sso_login(client, "dora", DORA)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    dora = row(app, "dora")
    assert dora.provider == "sso" and dora.email == "dora@school.test"
    assert (dora.first_name, dora.last_name) == ("Dora", "Lefèvre")
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert User.get_by_id(dora.id).team.name == "Year 5"
    assert dora.status == "active" and dora.last_login_at is not None
    assert [e.action for e in audit_actions(app)][-2:] == ["user.create", "login.success"]


def test_sign_in_by_email_and_account_without_mail(app):
    assert sso_login(app.test_client(), "DORA@school.test", DORA).status_code == 303
    assert sso_login(app.test_client(), "eli", "eli directory pass 1").status_code == 303
    assert row(app, "eli").email is None


def test_wrong_password_and_unknown_user_answer_alike(app, slapd):
    answers = set()
    for identifier, password in [
        ("dora", "not the password 123"),
        ("ghost", "whatever 12345"),
        ("ghost@school.test", DORA),
        ("dora", ""),
    ]:
        response = sso_login(app.test_client(), identifier, password)
        if password:
            assert response.status_code == 401
            text = response.get_data(as_text=True)
            assert says(text, "LOGIN_FAILED")
            answers.add(normalize(text).replace(identifier, "X"))
        else:
            assert response.status_code == 422  # empty password: never an anonymous bind
    assert len(answers) == 1
    assert row(app, "dora") is None  # no row before a successful sign-in
    reasons = [e.detail for e in audit_actions(app, "login.failure")]
    assert len(reasons) == 3 and all("unknown_identifier" in r for r in reasons)
    assert slapd.can_bind("dora", DORA)  # one wrong password does not lock (ppolicy: 3)


def test_local_account_cannot_sign_in_as_directory_and_back(app, make_user):
    make_user("carl")  # a local account
    assert sso_login(app.test_client(), "carl", PASSWORD).status_code == 401
    assert login(app.test_client(), "carl", PASSWORD, provider="identity").status_code == 303
    assert sso_login(app.test_client(), "dora", DORA).status_code == 303
    # A directory account is refused through the local provider, whatever is stored.
    assert login(app.test_client(), "dora", DORA, provider="identity").status_code == 401


def test_directory_failures_use_the_same_throttle(app):
    from portal import throttle

    sso_login(app.test_client(), "dora", DORA)  # the row exists from now on
    with app.app_context():
        database.connect(reuse_if_open=True)
        User.update(failed_count=4).where(User.username_key == "dora").execute()
    response = sso_login(app.test_client(), "dora", "wrong wrong wrong 1")
    # The answer shows only what the typed identifier earned (issue 11, finding 3).
    assert response.status_code == 401 and not says(
        response.get_data(as_text=True), "SIGNIN_PAUSED"
    )
    dora = row(app, "dora")
    assert dora.failed_count == 5 and dora.locked_until is not None
    # While the account waits, even the right password is refused (silently).
    assert sso_login(app.test_client(), "dora", DORA).status_code == 401
    # Unknown directory identifiers are throttled by what was typed, as for local ones.
    for _ in range(6):
        last = sso_login(app.test_client(), "nobody-here", "wrong wrong wrong 1")
    assert says(last.get_data(as_text=True), "SIGNIN_PAUSED")
    with app.app_context():
        database.connect(reuse_if_open=True)
        typed = LoginThrottle.get(LoginThrottle.key == throttle.key_of("nobody-here"))
        assert typed.failed_count == 5 and typed.locked_until is not None
    assert "account.lock" in [e.action for e in audit_actions(app)]


def test_directory_must_change_flag_forces_the_change(app, slapd):
    slapd.modify("fay", {"pwdReset": [("MODIFY_REPLACE", ["TRUE"])]})
    client = app.test_client()
    response = sso_login(client, "fay", "fay directory pass 1")
    assert response.status_code == 303 and response.headers["Location"].endswith("/password/change")
    assert row(app, "fay").must_change


# --- change own password ------------------------------------------------------------------


def change(client, current, new, confirm=None):
    return post_form(
        client,
        "/password/change",
        {"current_password": current, "password": new, "confirm": confirm or new},
    )


def test_change_own_password_writes_the_directory(app, slapd, outbox):
    client = app.test_client()
    sso_login(client, "dora", DORA)
    response = change(client, DORA, NEW)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert slapd.can_bind("dora", NEW) and not slapd.can_bind("dora", DORA)
    assert sso_login(app.test_client(), "dora", NEW).status_code == 303
    assert "password.change" in [e.action for e in audit_actions(app)]
    outbox.deliver()
    assert [m.recipients for m in outbox] == [["dora@school.test"]]


def test_change_wrong_current_password(app, slapd):
    client = app.test_client()
    sso_login(client, "dora", DORA)
    response = change(client, "not my password 999", NEW)
    assert response.status_code == 422
    assert says(response.get_data(as_text=True), "CURRENT_PASSWORD_WRONG")
    assert slapd.can_bind("dora", DORA)


def test_change_passgate_policy_runs_first(app, slapd):
    client = app.test_client()
    sso_login(client, "dora", DORA)
    response = change(client, DORA, "short1")
    too_short = english(app, lambda: _error_text("min_length", Policy()))
    assert response.status_code == 422 and too_short in response.get_data(as_text=True)
    assert slapd.can_bind("dora", DORA)


@pytest.mark.parametrize(
    "lang, message",
    [
        ("en", "The directory refused this password: you have used it before."),
        ("fr", "L’annuaire a refusé ce mot de passe : vous l’avez déjà utilisé."),
    ],
)
def test_directory_policy_refusal_is_a_clear_form_error(app, slapd, lang, message):
    client = app.test_client()
    client.get(f"/login?lang={lang}")
    sso_login(client, "dora", DORA)
    assert change(client, DORA, NEW).status_code == 303
    # Passgate never knew the directory's previous password: the directory's history does.
    response = change(client, NEW, DORA)
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and message in text
    assert "constraintViolation" not in text and "19" not in re.sub(r"<[^>]+>", "", text)
    assert slapd.can_bind("dora", NEW)


# --- recovery ------------------------------------------------------------------------------


def forgot(client, identifier, provider="sso"):
    return post_form(client, "/password/forgot", {"identifier": identifier, "provider": provider})


def mailed_link(outbox, to) -> str:
    for message in outbox.deliver():
        if message.recipients == [to]:
            return LINK_RE.search(message.body).group(0).replace("http://localhost", "")
    raise AssertionError(f"no mail to {to}")


def process_requests(app):
    from portal.recovery import service

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        service.process_pending()
        database.close()


def reset_through(client, link, password=NEW):
    client.get(link)
    return post_form(client, "/password/reset", {"password": password, "confirm": password})


def test_recovery_link_sets_the_directory_password_and_unlocks(app, slapd, outbox):
    # Lock dora in the directory (ppolicy: 3 failures), before Passgate ever saw her.
    for _ in range(3):
        assert not slapd.can_bind("dora", "wrong wrong wrong")
    assert slapd.read("dora", "pwdAccountLockedTime")["pwdAccountLockedTime"]
    assert not slapd.can_bind("dora", DORA)
    client = app.test_client()
    assert forgot(client, "dora@school.test").status_code == 303
    process_requests(app)
    assert row(app, "dora").provider == "sso"  # found in the directory by the worker
    link = mailed_link(outbox, "dora@school.test")
    response = reset_through(client, link)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert slapd.can_bind("dora", NEW) and not slapd.can_bind("dora", DORA)
    state = slapd.read("dora", "pwdAccountLockedTime", "pwdReset")
    assert state == {"pwdAccountLockedTime": [], "pwdReset": []}
    assert sso_login(app.test_client(), "dora", NEW).headers["Location"] == "/"
    assert "password.reset" in [e.action for e in audit_actions(app)]


def test_recovery_answer_is_the_same_for_unknown_directory_users(app, outbox):
    answers = set()
    for identifier in ["dora", "ghost", "eli"]:
        response = forgot(app.test_client(), identifier)
        answers.add((response.status_code, response.headers["Location"]))
    assert answers == {(303, "/password/forgot/sent")}
    process_requests(app)
    assert [m.recipients for m in outbox.deliver()] == [["dora@school.test"]]
    assert sorted(e.outcome for e in audit_actions(app, "recovery.request")) == [
        "no_email",
        "no_match",
        "sent",
    ]


def test_directory_down_during_reset_keeps_the_token(app, slapd, outbox):
    client = app.test_client()
    forgot(client, "dora")
    process_requests(app)
    link = mailed_link(outbox, "dora@school.test")
    client.get(link)
    slapd.stop()
    response = post_form(client, "/password/reset", {"password": NEW, "confirm": NEW})
    text = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert says(text, "DIRECTORY_UNAVAILABLE") and not says(text, "LOGIN_FAILED")
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert (
            ResetToken.select()
            .where(ResetToken.used_at.is_null() & (ResetToken.purpose == "reset"))
            .count()
            == 1
        )
    assert audit_actions(app, "directory.unavailable")
    slapd.start()
    response = post_form(client, "/password/reset", {"password": NEW, "confirm": NEW})
    assert response.status_code == 303
    assert slapd.can_bind("dora", NEW)


# --- failures ----------------------------------------------------------------------------


def test_directory_down_sign_in_is_503_and_local_accounts_still_work(app, slapd, make_user):
    make_user("carl")
    slapd.stop()
    response = sso_login(app.test_client(), "dora", DORA)
    text = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert says(text, "DIRECTORY_UNAVAILABLE") and not says(text, "LOGIN_FAILED")
    event = audit_actions(app, "directory.unavailable")[-1]
    assert event.outcome == "failure" and "login" in event.detail
    fr = app.test_client()
    fr.get("/login?lang=fr")
    assert "annuaire" in sso_login(fr, "dora", DORA).get_data(as_text=True)
    assert login(app.test_client(), "carl", PASSWORD).status_code == 303


def test_refused_service_account_is_unavailable_not_wrong_password(make_app, slapd):
    app = make_app(**slapd.settings(LDAP_BIND_PASSWORD="not the service password"))
    prepare_database(app)
    response = sso_login(app.test_client(), "dora", DORA)
    assert response.status_code == 503
    assert "service bind refused" in audit_actions(app, "directory.unavailable")[-1].detail


def test_slow_directory_times_out(make_app, slapd):
    import socket

    # A listener that accepts and never answers: the call must give up after LDAP_TIMEOUT.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        app = make_app(**slapd.settings(LDAP_URL=f"ldap://127.0.0.1:{port}", LDAP_TIMEOUT=0.5))
        prepare_database(app)
        response = sso_login(app.test_client(), "dora", DORA)
    assert response.status_code == 503


def test_no_provider_choice_without_a_directory(make_app):
    app = make_app()
    prepare_database(app)
    assert 'name="provider"' not in app.test_client().get("/login").get_data(as_text=True)


# --- admin ---------------------------------------------------------------------------------


def admin_client(app, make_user):
    make_user("boss", role="admin")
    client = app.test_client()
    assert login(client, "boss").status_code == 303
    return client


def admin_post(client, url, data=None):
    token = csrf_of(client.get("/admin/users"))
    return client.post(url, data={**(data or {}), "csrf_token": token}, headers=HX)


def test_admin_reset_sets_must_change_in_the_directory(app, slapd, make_user):
    sso_login(app.test_client(), "dora", DORA)
    dora = row(app, "dora")
    admin = admin_client(app, make_user)
    for _ in range(3):
        slapd.can_bind("dora", "wrong wrong wrong")
    assert slapd.read("dora", "pwdAccountLockedTime")["pwdAccountLockedTime"]
    response = admin_post(admin, f"/admin/users/{dora.id}/reset")
    assert response.status_code == 200, response.get_data(as_text=True)
    temp = TEMP_RE.search(response.get_data(as_text=True)).group(1)
    assert slapd.read("dora", "pwdReset") == {"pwdReset": ["TRUE"]}
    assert slapd.read("dora", "pwdAccountLockedTime") == {"pwdAccountLockedTime": []}
    assert slapd.can_bind("dora", temp) and not slapd.can_bind("dora", DORA)
    assert row(app, "dora").must_change
    # The temporary password signs in and Passgate forces the change, in the directory.
    client = app.test_client()
    response = sso_login(client, "dora", temp)
    assert response.headers["Location"].endswith("/password/change")
    assert change(client, temp, NEW).status_code == 303
    assert slapd.can_bind("dora", NEW)
    assert slapd.read("dora", "pwdReset") == {"pwdReset": []}
    assert not row(app, "dora").must_change


def test_admin_set_password_and_unlock(app, slapd, make_user):
    sso_login(app.test_client(), "dora", DORA)
    dora = row(app, "dora")
    admin = admin_client(app, make_user)
    response = admin_post(
        admin, f"/admin/users/{dora.id}/password", {"password": NEW, "confirm": NEW}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert slapd.can_bind("dora", NEW)
    assert slapd.read("dora", "pwdReset") == {"pwdReset": []}  # must_change left unticked
    for _ in range(3):
        slapd.can_bind("dora", "wrong wrong wrong")
    assert not slapd.can_bind("dora", NEW)
    response = admin_post(admin, f"/admin/users/{dora.id}/unlock")
    assert response.status_code in (200, 303)
    assert slapd.read("dora", "pwdAccountLockedTime") == {"pwdAccountLockedTime": []}
    assert slapd.can_bind("dora", NEW)


def test_admin_reset_with_directory_down_is_503_and_changes_nothing(app, slapd, make_user):
    sso_login(app.test_client(), "dora", DORA)
    dora = row(app, "dora")
    admin = admin_client(app, make_user)
    slapd.stop()
    response = admin_post(admin, f"/admin/users/{dora.id}/reset")
    assert response.status_code == 503 and response.headers["HX-Reswap"] == "none"
    after = row(app, "dora")
    assert after.password_hash == dora.password_hash and not after.must_change
    slapd.start()
    assert slapd.can_bind("dora", DORA)


# --- passgate sync-directory -----------------------------------------------------------------


def cli_env(app, slapd, tmp_path, **extra):
    from ..helpers import PG_URL

    env = {
        "PASSGATE_SECRET_KEY": "test-secret-key-not-for-production",
        "PASSGATE_DATABASE_URL": PG_URL or app.config["DATABASE_URL"],
        "PASSGATE_BASE_URL": "http://localhost",
        "PASSGATE_BCRYPT_ROUNDS": "4",
        "PASSGATE_INSTANCE": str(tmp_path / "instance"),
        "PASSGATE_LDAP_ATTR_TEAM": GROUPS,
    }
    for key, value in slapd.settings().items():
        env[f"PASSGATE_{key}"] = str(value)
    env.update(extra)
    return env


def run_cli(env, *args):
    from click.testing import CliRunner

    from portal.cli import main

    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_sync_directory_adds_updates_and_disables_vanished(app, slapd, tmp_path):
    client = app.test_client()
    assert sso_login(client, "fay", "fay directory pass 1").status_code == 303
    env = cli_env(app, slapd, tmp_path)
    result = run_cli(env, "sync-directory")
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output and "0 disabled" in result.output
    assert row(app, "dora").team_id and row(app, "eli").email is None
    # Changed, added and removed entries.
    slapd.modify(
        "dora",
        {
            "sn": [("MODIFY_REPLACE", ["Durand"])],
            "mail": [("MODIFY_REPLACE", ["dora.durand@school.test"])],
        },
    )
    slapd.add_person("gus", "Gus", "Petit", "gus@school.test", "gus directory pass 1")
    slapd.delete_person("fay")
    result = run_cli(env, "sync-directory")
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output and "1 updated" in result.output
    assert "1 disabled" in result.output
    dora = row(app, "dora")
    assert dora.last_name == "Durand" and dora.email == "dora.durand@school.test"
    assert row(app, "gus").provider == "sso"
    assert row(app, "fay").disabled
    assert client.get("/").status_code == 302  # fay's session ended
    assert audit_actions(app, "directory.vanished")[-1].target_name == "fay"
    # The list marks them as directory accounts.
    admin = app.test_client()
    from portal.accounts import create_user

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        create_user("boss", role="admin", email="boss@example.test", password=PASSWORD)
        database.close()
    login(admin, "boss")
    listing = admin.get("/admin/users?provider=sso").get_data(as_text=True)
    sso = english(app, PROVIDER_LABELS["sso"])
    assert "gus" in listing and f'<span class="status-note">{sso}</span>' in listing
    assert "boss@example.test" not in listing


def test_sync_directory_reports_a_down_directory(app, slapd, tmp_path):
    env = cli_env(app, slapd, tmp_path)
    slapd.stop()
    result = run_cli(env, "sync-directory")
    assert result.exit_code != 0 and "directory unavailable" in result.output
    env.pop("PASSGATE_LDAP_URL")
    result = run_cli(env, "sync-directory")
    assert result.exit_code != 0 and "no directory configured" in result.output


def test_edit_dialog_keeps_directory_owned_fields(app, make_user):
    sso_login(app.test_client(), "dora", DORA)
    dora = row(app, "dora")
    admin = admin_client(app, make_user)
    form = admin.get(f"/admin/users/{dora.id}/edit", headers=HX).get_data(as_text=True)
    assert re.search(r'name="email"[^>]*readonly', form) or re.search(
        r'readonly[^>]*name="email"', form
    )
    assert says(form, "DIRECTORY_OWNED_FIELDS")
    response = admin_post(
        admin,
        f"/admin/users/{dora.id}/edit",
        {
            "username": "someone-else",
            "email": "other@school.test",
            "first_name": "X",
            "last_name": "Y",
            "team": str(dora.team_id),
            "provider": "sso",
            "role": "user",
            "language": "fr",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    after = row(app, "dora")
    assert (after.username, after.email, after.first_name) == ("dora", "dora@school.test", "Dora")
    assert after.language == "fr"  # not owned by the directory: the edit applies


def test_bulk_reset_and_unlock_reaches_the_directory(app, slapd, make_user):
    for uid, password in (("dora", DORA), ("fay", "fay directory pass 1")):
        assert sso_login(app.test_client(), uid, password).status_code == 303
    ids = [str(row(app, "dora").id), str(row(app, "fay").id)]
    for _ in range(3):
        slapd.can_bind("fay", "wrong wrong wrong")
    admin = admin_client(app, make_user)
    response = admin_post(admin, "/admin/users/bulk/reset", {"ids": ids, "confirm_count": "2"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "2 of 2 done" in text, text
    temps = re.findall(r'<code class="temp-password-cell">([^<]+)</code>', text)
    assert len(temps) == 2
    assert sorted(slapd.can_bind(uid, t) for uid in ("dora", "fay") for t in temps) == [
        False,
        False,
        True,
        True,
    ]
    for uid in ("dora", "fay"):
        assert slapd.read(uid, "pwdReset", "pwdAccountLockedTime") == {
            "pwdReset": ["TRUE"],
            "pwdAccountLockedTime": [],
        }


def test_same_work_for_known_and_unknown_directory_identifiers(app, monkeypatch):
    """Timing: a wrong password and an unknown identifier cost the same bcrypt
    verification, the same service search and the same user bind."""
    from portal import passwords
    from portal.providers.directory import Directory

    calls = []
    real_connect, real_verify = Directory.connect, passwords.verify_password

    def connect(self, dn, password, operation):
        calls.append(("bind", "service" if dn == self.s.bind_dn else "user"))
        return real_connect(self, dn, password, operation)

    def verify(password, hashed):
        calls.append(("bcrypt", hashed is None))
        return real_verify(password, hashed)

    monkeypatch.setattr(Directory, "connect", connect)
    monkeypatch.setattr(passwords, "verify_password", verify)
    work = []
    for identifier in ("dora", "nobody-at-all"):
        calls.clear()
        assert sso_login(app.test_client(), identifier, "wrong password 12345").status_code == 401
        work.append(list(calls))
    assert work[0] == work[1] == [("bcrypt", True), ("bind", "service"), ("bind", "user")]


def test_directory_administrator_confirms_with_the_directory_password(app, slapd):
    from portal import settings

    assert sso_login(app.test_client(), "dora", DORA).status_code == 303
    sso_login(app.test_client(), "fay", "fay directory pass 1")
    with app.app_context():
        database.connect(reuse_if_open=True)
        User.update(role="admin").where(User.username_key == "dora").execute()
        settings.save({"REAUTH_MINUTES": 0})
        database.close()
    admin = app.test_client()
    sso_login(admin, "dora", DORA)
    fay = row(app, "fay")
    response = admin_post(admin, f"/admin/users/{fay.id}/reset")
    assert response.status_code == 401 and "reauth_password" in response.get_data(as_text=True)
    response = admin_post(admin, f"/admin/users/{fay.id}/reset", {"reauth_password": DORA})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert slapd.read("fay", "pwdReset") == {"pwdReset": ["TRUE"]}


def test_user_page_shows_the_directory_state(app, slapd, make_user):
    sso_login(app.test_client(), "dora", DORA)
    dora = row(app, "dora")
    admin = admin_client(app, make_user)
    page = admin.get(f"/admin/users/{dora.id}").get_data(as_text=True)
    assert re.search(r"data-directory-state>\s*Active<", page) and ">Unlock<" not in page
    for _ in range(3):
        slapd.can_bind("dora", "wrong wrong wrong")
    page = admin.get(f"/admin/users/{dora.id}").get_data(as_text=True)
    assert re.search(r"data-directory-state>\s*Locked<", page) and ">Unlock<" in page
    slapd.stop()
    response = admin.get(f"/admin/users/{dora.id}")
    assert response.status_code == 200
    assert says(response.get_data(as_text=True), "DIRECTORY_DOWN")


def test_bulk_recovery_links_for_directory_accounts(app, slapd, make_user, outbox):
    for uid, password in (("dora", DORA), ("eli", "eli directory pass 1")):
        assert sso_login(app.test_client(), uid, password).status_code == 303
    ids = [str(row(app, "dora").id), str(row(app, "eli").id)]
    admin = admin_client(app, make_user)
    preview = admin_post(admin, "/admin/users/bulk/recovery/confirm", {"ids": ids})
    text = preview.get_data(as_text=True)
    assert re.search(r'data-count="eligible">1<', text) and re.search(
        r'data-count="no_email">1<', text
    )
    response = admin_post(admin, "/admin/users/bulk/recovery", {"ids": ids, "confirm_count": "1"})
    assert response.status_code == 200 and "1 of 1 done" in response.get_data(as_text=True)
    client = app.test_client()
    assert reset_through(client, mailed_link(outbox, "dora@school.test")).status_code == 303
    assert slapd.can_bind("dora", NEW)


def test_recovery_request_with_directory_down_is_audited_and_sends_nothing(app, slapd, outbox):
    response = forgot(app.test_client(), "dora")
    assert response.status_code == 303  # the web request never asks the directory
    slapd.stop()
    process_requests(app)
    assert outbox.deliver() == []
    assert [e.outcome for e in audit_actions(app, "recovery.request")] == ["unavailable"]


def test_directory_entry_never_merges_into_a_local_account(app, make_user):
    local = make_user("dora", email="dora.local@example.test")
    response = sso_login(app.test_client(), "dora", DORA)
    assert response.status_code == 401
    assert says(response.get_data(as_text=True), "LOGIN_FAILED")
    after = row(app, "dora")
    assert after.provider == "identity" and after.password_hash == local.password_hash
    assert audit_actions(app, "directory.conflict")
    assert login(app.test_client(), "dora", PASSWORD).status_code == 303


def test_admin_adds_a_directory_account_from_the_directory(app, slapd, make_user, outbox):
    admin = admin_client(app, make_user)
    response = admin_post(
        admin,
        "/admin/users/new",
        {
            "username": "fay",
            "email": "",
            "first_name": "",
            "last_name": "",
            "role": "manager",
            "provider": "sso",
            "language": "fr",
        },
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text
    assert says(text, "FOUND_IN_DIRECTORY") and "invitation" not in text
    fay = row(app, "fay")
    assert (fay.provider, fay.email, fay.last_name, fay.role) == (
        "sso",
        "fay@school.test",
        "Bernard",
        "manager",
    )
    assert outbox.deliver() == []  # no invitation: the password is the directory's
    assert sso_login(app.test_client(), "fay", "fay directory pass 1").status_code == 303
    response = admin_post(
        admin, "/admin/users/new", {"username": "nobody", "role": "user", "provider": "sso"}
    )
    assert response.status_code == 422
    assert says(response.get_data(as_text=True), "NOT_IN_DIRECTORY")
    assert row(app, "nobody") is None


# --- TLS -------------------------------------------------------------------------------------


@pytest.fixture
def tls_slapd(tmp_path, monkeypatch):
    try:
        server = Slapd(tmp_path / "tls-slapd", tls=True).setup().start()
    except Exception as exc:
        pytest.fail(f"could not start slapd with TLS: {exc}")
    yield server
    server.stop()


@pytest.mark.parametrize("how", ["ldaps", "starttls"])
def test_tls_with_a_trusted_certificate(make_app, tls_slapd, monkeypatch, how):
    # The system trust store is OpenSSL's default: SSL_CERT_FILE points it at the test CA.
    monkeypatch.setenv("SSL_CERT_FILE", tls_slapd.certs["ca"])
    url = (
        f"ldaps://localhost:{tls_slapd.tls_port}"
        if how == "ldaps"
        else f"ldap://localhost:{tls_slapd.port}"
    )
    app = make_app(**tls_slapd.settings(LDAP_URL=url, LDAP_START_TLS=how == "starttls"))
    prepare_database(app)
    assert sso_login(app.test_client(), "dora", DORA).status_code == 303


@pytest.mark.parametrize("how", ["ldaps", "starttls"])
def test_tls_with_an_untrusted_certificate_is_unavailable(
    make_app, tls_slapd, tmp_path, monkeypatch, how
):
    other = tmp_path / "other-ca"
    other.mkdir()
    from ..ldap_server import make_certificates

    monkeypatch.setenv("SSL_CERT_FILE", make_certificates(str(other))["ca"])
    url = (
        f"ldaps://localhost:{tls_slapd.tls_port}"
        if how == "ldaps"
        else f"ldap://localhost:{tls_slapd.port}"
    )
    app = make_app(**tls_slapd.settings(LDAP_URL=url, LDAP_START_TLS=how == "starttls"))
    prepare_database(app)
    response = sso_login(app.test_client(), "dora", DORA)
    assert response.status_code == 503  # never sent over an unverified connection


def test_tls_certificate_for_another_host_name_is_unavailable(make_app, tls_slapd, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", tls_slapd.certs["ca"])
    app = make_app(**tls_slapd.settings(LDAP_URL=f"ldaps://127.0.0.1:{tls_slapd.tls_port}"))
    prepare_database(app)
    assert sso_login(app.test_client(), "dora", DORA).status_code == 503
