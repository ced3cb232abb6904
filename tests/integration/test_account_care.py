"""Issue 10, items 1-3, through a real SMTP server (aiosmtpd), following the links in the
delivered mail: "this wasn't me", the backup recovery address, own email change (E8)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal import alerts, mail, settings
from portal.db import database
from portal.models import AuditEvent, RecoveryRequest, ResetToken, User, UserSession, utcnow

from ..helpers import (
    PASSWORD,
    csrf_of,
    login,
    normalize,
    post_form,
    prepare_database,
    says,
)

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
ON_WINDOWS = {"browser": "Firefox", "system": "Windows"}  # FIREFOX_WINDOWS, as mails name it
LINK_RE = r"http://localhost(/(?:password/reset|account/not-me|account/confirm)/[A-Za-z0-9_\-]+)"
NEW_PASSWORD = "ocean breeze kettle 2042"


@pytest.fixture
def env(make_app, smtp_server):
    app = make_app(MAIL_PORT=smtp_server.port, MAIL_SUPPRESS_SEND=False)
    prepare_database(app)
    from portal.accounts import create_user

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        settings.save({"TIMEZONE": "Europe/Paris"})
        create_user("alice", email="alice@work.test", first_name="Alice", password=PASSWORD)
        create_user("bob", email="bob@work.test", password=PASSWORD)
        create_user("root", email="root@work.test", password=PASSWORD, role="admin")
        database.close()
    return Env(app, smtp_server)


class Env:
    def __init__(self, app, smtp):
        self.app, self.smtp = app, smtp

    def client(self, user_agent=FIREFOX_WINDOWS):
        client = self.app.test_client()
        client.environ_base["HTTP_USER_AGENT"] = user_agent
        return client

    def deliver(self):
        from portal.worker import run_once

        with self.app.app_context():
            database.connect(reuse_if_open=True)
            run_once()
            database.close()

    def mails(self, address, kind=None):
        """The texts of the mails to ``address`` (only those of ``kind``: its subject in
        English, portal.mail.SUBJECTS)."""
        if kind:
            with self.db():
                subject = mail.subject_of(kind, "en")
        return [
            self.smtp.text_of(m)
            for rcpts, m in self.smtp.messages
            if address in rcpts and (kind is None or m["Subject"] == subject)
        ]

    def links(self, text, kind):
        return [p for p in re.findall(LINK_RE, text) if f"/{kind}/" in p]

    def db(self):
        return _Db(self.app)

    def user(self, name="alice") -> User:
        with self.db():
            return User.get(User.username == name)


class _Db:
    def __init__(self, app):
        self.ctx = app.app_context()

    def __enter__(self):
        self.ctx.push()
        database.connect(reuse_if_open=True)

    def __exit__(self, *exc):
        database.close()
        self.ctx.pop()


def follow(client, path):
    """Open a mailed link: it only moves to a token-free page, which shows a button."""
    landing = client.get(path)
    assert (
        landing.status_code == 302
        and "/account/" in landing.headers["Location"]
        or "/password/" in landing.headers["Location"]
    )
    assert landing.headers["Referrer-Policy"] == "no-referrer"
    return client.get(landing.headers["Location"])


def press(client, page_url):
    """Press the page's button (POST with its CSRF token)."""
    page = client.get(page_url)
    return client.post(page_url, data={"csrf_token": csrf_of(page)})


def audited(env, action):
    with env.db():
        return [e.outcome for e in AuditEvent.select().where(AuditEvent.action == action)]


# --------------------------------------------------------------------------- item 1


def test_recovery_mail_tells_when_where_and_which_browser(env):
    client = env.client()
    post_form(client, "/password/forgot", {"identifier": "alice"})
    env.deliver()
    (text,) = env.mails("alice@work.test")
    assert says(text, "DEVICE", **ON_WINDOWS) and "127.0.0.1" in text
    assert "CET" in text  # the organisation's time zone (Europe/Paris in November)
    assert env.links(text, "password/reset") and env.links(text, "account/not-me")


def test_not_me_in_a_recovery_mail_revokes_the_link_once(env):
    client = env.client()
    post_form(client, "/password/forgot", {"identifier": "alice"})
    env.deliver()
    (text,) = env.mails("alice@work.test")
    (reset,), (not_me,) = env.links(text, "password/reset"), env.links(text, "account/not-me")
    scanner = env.client("Mozilla/5.0 link preview")
    page = follow(scanner, not_me)  # a mail scanner opening it changes nothing
    assert page.status_code == 200 and says(page.get_data(as_text=True), "CANCEL_RECOVERY_LINK")
    assert follow(env.client(), reset).status_code == 200  # still usable
    with env.db():  # it expires with the recovery link it revokes
        link, sibling = (
            ResetToken.get(ResetToken.purpose == kind) for kind in ("reset", "not_me_reset")
        )
        assert sibling.expires_at == link.expires_at
    assert post_form(scanner, "/account/not-me", {}, page_url="/account/not-me").status_code == 303
    assert scanner.get("/account/not-me/done").status_code == 200
    assert follow(env.client(), reset).status_code == 404  # revoked
    again = env.client()
    assert follow(again, not_me).status_code == 404  # works once
    assert audited(env, "recovery.not_me") == ["success"]
    assert env.user().status == "active"  # the password did not change; nothing locked


def test_not_me_post_needs_csrf(env):
    client = env.client()
    post_form(client, "/password/forgot", {"identifier": "alice"})
    env.deliver()
    (not_me,) = env.links(env.mails("alice@work.test")[0], "account/not-me")
    follow(client, not_me)
    assert client.post("/account/not-me", data={}).status_code == 400
    assert audited(env, "recovery.not_me") == []


def test_links_of_one_kind_never_work_as_another(env):
    client = env.client()
    post_form(client, "/password/forgot", {"identifier": "alice"})
    env.deliver()
    text = env.mails("alice@work.test")[0]
    (reset,), (not_me,) = env.links(text, "password/reset"), env.links(text, "account/not-me")
    token_of = lambda path: path.rsplit("/", 1)[1]  # noqa: E731
    assert follow(env.client(), f"/password/reset/{token_of(not_me)}").status_code == 404
    assert follow(env.client(), f"/account/not-me/{token_of(reset)}").status_code == 404
    assert follow(env.client(), f"/account/confirm/{token_of(not_me)}").status_code == 404


def change_password(client, current=PASSWORD, new=NEW_PASSWORD):
    return post_form(
        client, "/password/change", {"current_password": current, "password": new, "confirm": new}
    )


def test_not_me_in_a_change_notice_locks_ends_sessions_and_alerts(env, monkeypatch):
    alerted = []
    real = alerts.notify_admins

    def spy(event, subject, **kw):
        alerted.append((event, subject.id, kw))
        return real(event, subject, **kw)

    monkeypatch.setattr(alerts, "notify_admins", spy)
    owner = env.client()
    login(owner, "alice")
    assert change_password(owner).status_code == 303
    intruder = env.client("Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36")
    assert login(intruder, "alice", NEW_PASSWORD).status_code == 303
    env.deliver()
    (text,) = env.mails("alice@work.test", "password_changed")
    assert says(text, "DEVICE", **ON_WINDOWS) and "127.0.0.1" in text
    (not_me,) = env.links(text, "account/not-me")
    mailbox = env.client()
    page = follow(mailbox, not_me)
    assert says(page.get_data(as_text=True), "LOCK_MY_ACCOUNT")
    assert env.user().status == "active"  # GET never acts
    assert press(mailbox, "/account/not-me").status_code == 303
    assert "locked" in mailbox.get("/account/not-me/done").get_data(as_text=True)
    alice = env.user()
    assert alice.disabled and alice.hard_locked
    with env.db():
        assert UserSession.select().where(UserSession.user == alice.id).count() == 0
    assert intruder.get("/").status_code == 302  # signed out
    assert login(intruder, "alice", NEW_PASSWORD).status_code == 401
    assert [(event, uid) for event, uid, _kw in alerted] == [("not_me_lock", alice.id)]
    assert alerted[0][2]["ip"] == "127.0.0.1" and alerted[0][2]["when"] is not None
    env.deliver()
    (alert,) = env.mails("root@work.test", "admin_alert")
    assert "alice" in alert and "127.0.0.1" in alert
    assert audited(env, "account.not_me_lock") == ["success"]
    assert follow(env.client(), not_me).status_code == 404  # works once


def test_not_me_link_expires_with_the_notice(env):
    owner = env.client()
    login(owner, "alice")
    change_password(owner)
    env.deliver()
    (not_me,) = env.links(env.mails("alice@work.test", "password_changed")[0], "account/not-me")
    with env.db():
        token = ResetToken.get(ResetToken.purpose == "not_me_lock")
        # a bounded lifetime: NOT_ME_LINK_DAYS (7 days by default)
        assert timedelta(days=6) < token.expires_at - token.created_at <= timedelta(days=7)
        ResetToken.update(expires_at=utcnow() - timedelta(seconds=1)).where(
            ResetToken.id == token.id
        ).execute()
    assert follow(env.client(), not_me).status_code == 404
    assert not env.user().disabled


def test_not_me_survives_a_later_password_change(env):
    """The change it reports rotates the security stamp; the link must still work."""
    owner = env.client()
    login(owner, "alice")
    change_password(owner)
    change_password(owner, NEW_PASSWORD, "quiet meadow lantern 7781")
    env.deliver()
    first = env.links(env.mails("alice@work.test", "password_changed")[0], "account/not-me")
    client = env.client()
    follow(client, first[0])
    assert press(client, "/account/not-me").status_code == 303
    assert env.user().disabled


# --------------------------------------------------------------------------- item 2


def add_backup(client, address="alice@home.test", password=PASSWORD):
    return post_form(
        client, "/account/recovery", {"backup_email": address, "current_password": password}
    )


def confirm_backup(env, address="alice@home.test"):
    env.deliver()
    (text,) = env.mails(address, "backup_confirm")
    (confirm,) = env.links(text, "account/confirm")
    client = env.client()
    page = follow(client, confirm)
    assert page.status_code == 200 and address in page.get_data(as_text=True)
    return client, press(client, "/account/confirm")


def test_backup_address_needs_the_password_and_a_confirmation(env):
    client = env.client()
    login(client, "alice")
    refused = add_backup(client, password="not my password at all")
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "alice@home.test" in body and says(body, "CURRENT_PASSWORD_WRONG")
    assert add_backup(client).status_code == 303
    assert env.user().backup_email is None  # not used before it is confirmed
    post_form(env.client(), "/password/forgot", {"identifier": "alice@home.test"})
    env.deliver()
    assert env.mails("alice@home.test", "reset") == []
    _client, done = confirm_backup(env)
    assert done.status_code == 303
    assert env.user().backup_email == "alice@home.test"
    env.deliver()
    (notice,) = env.mails("alice@work.test", "backup_changed")  # the main address hears
    assert "alice@home.test" in notice and env.links(notice, "account/not-me")
    assert audited(env, "backup_email.add") == ["success"]
    # Administrators see the confirmed recovery address on the user's page.
    admin = env.client()
    login(admin, "root")
    page = admin.get(f"/admin/users/{env.user().id}").get_data(as_text=True)
    assert "<dd data-recovery-address>alice@home.test</dd>" in page


def test_recovery_by_any_identifier_mails_both_addresses(env):
    client = env.client()
    login(client, "alice")
    add_backup(client)
    confirm_backup(env)
    for identifier in ("alice", "ALICE@work.test", "alice@HOME.test"):
        env.smtp.messages.clear()
        post_form(env.client(), "/password/forgot", {"identifier": identifier})
        env.deliver()
        work, home = env.mails("alice@work.test", "reset"), env.mails("alice@home.test", "reset")
        assert len(work) == len(home) == 1, identifier
        assert env.links(work[0], "password/reset") == env.links(home[0], "password/reset")
    (reset,) = env.links(home[0], "password/reset")
    reader = env.client()
    follow(reader, reset)
    assert (
        post_form(
            reader, "/password/reset", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        ).status_code
        == 303
    )


def test_backup_address_is_not_a_sign_in_identifier(env):
    client = env.client()
    login(client, "alice")
    add_backup(client)
    confirm_backup(env)
    assert login(env.client(), "alice@home.test").status_code == 401
    assert login(env.client(), "alice@work.test").status_code == 303


def test_forgot_answers_alike_for_every_identifier(env):
    client = env.client()
    login(client, "alice")
    add_backup(client)
    confirm_backup(env)
    answers = set()
    for identifier in ("alice", "alice@work.test", "alice@home.test", "ghost", "ghost@home.test"):
        response = post_form(env.client(), "/password/forgot", {"identifier": identifier})
        assert response.status_code == 303
        answers.add((response.headers["Location"], normalize(response.get_data(as_text=True))))
    assert len(answers) == 1
    with env.db():  # the web request only records what was typed, whatever it names
        assert RecoveryRequest.select().where(RecoveryRequest.processed_at.is_null()).count() == 5


def test_remove_backup_needs_the_password(env):
    client = env.client()
    login(client, "alice")
    add_backup(client)
    confirm_backup(env)
    bad = post_form(
        client,
        "/account/recovery/remove",
        {"remove-current_password": "wrong wrong wrong 1"},
        "/account/recovery",
    )
    assert bad.status_code == 422 and env.user().backup_email == "alice@home.test"
    ok = post_form(
        client,
        "/account/recovery/remove",
        {"remove-current_password": PASSWORD},
        "/account/recovery",
    )
    assert ok.status_code == 303 and env.user().backup_email is None


def test_backup_taken_by_another_account_is_a_form_error_at_confirmation(env):
    client = env.client()
    login(client, "alice")
    assert add_backup(client, "bob@work.test").status_code == 303  # same answer as any
    env.deliver()
    (confirm,) = env.links(env.mails("bob@work.test", "backup_confirm")[0], "account/confirm")
    reader = env.client()
    follow(reader, confirm)
    taken = press(reader, "/account/confirm")
    assert taken.status_code == 422
    assert says(taken.get_data(as_text=True), "ADDRESS_TAKEN")
    assert env.user().backup_email is None


def test_a_race_on_the_unique_index_is_a_form_error(env, monkeypatch):
    from portal.account import service

    for name in ("alice", "bob"):
        client = env.client()
        login(client, name)
        add_backup(client, "shared@home.test")
    env.deliver()
    first, second = (
        env.links(t, "account/confirm")[0] for t in env.mails("shared@home.test", "backup_confirm")
    )
    one = env.client()
    follow(one, first)
    assert press(one, "/account/confirm").status_code == 303
    monkeypatch.setattr(service, "_taken", lambda user, key: False)  # the check raced
    two = env.client()
    follow(two, second)
    assert press(two, "/account/confirm").status_code == 422
    assert env.user("bob").backup_email is None


# --------------------------------------------------------------------------- item 3


def change_email(client, address="alice@new.test", password=PASSWORD):
    data = {"email": address}
    if password is not None:
        data["current_password"] = password
    return post_form(client, "/account/email", data)


def test_change_email_without_the_password_is_refused(env):
    client = env.client()
    login(client, "alice")
    refused = change_email(client, password=None)
    assert refused.status_code == 422 and "alice@new.test" in refused.get_data(as_text=True)
    wrong = change_email(client, password="definitely not it 42")
    assert wrong.status_code == 422
    env.deliver()
    assert env.smtp.messages == [] and env.user().email == "alice@work.test"
    assert audited(env, "email.change_request") == ["failure"]
    with env.db():  # the wrong password counted toward the sign-in throttle
        assert User.get(User.username == "alice").failed_count == 1


def test_change_email_confirmed_by_the_new_address(env):
    client = env.client()
    login(client, "alice")
    assert client.get("/account/email").status_code == 200
    assert change_email(client).status_code == 303
    pending = client.get("/account/email").get_data(as_text=True)
    assert says(pending, "EMAIL_CHANGE_PENDING", address="alice@new.test")
    env.deliver()
    (notice,) = env.mails("alice@work.test", "email_change_requested")
    assert "alice@new.test" in notice and says(notice, "DEVICE", **ON_WINDOWS)
    assert env.links(notice, "account/not-me")
    (text,) = env.mails("alice@new.test", "email_confirm")
    (confirm,) = env.links(text, "account/confirm")
    assert env.user().email == "alice@work.test"  # nothing changes until confirmed
    page = follow(client, confirm)
    assert page.status_code == 200 and env.user().email == "alice@work.test"
    assert press(client, "/account/confirm").status_code == 303
    assert env.user().email == "alice@new.test"
    env.deliver()
    (changed,) = env.mails("alice@work.test", "email_changed")
    assert env.links(changed, "account/not-me")  # the old address can still lock
    assert login(env.client(), "alice@new.test").status_code == 303
    assert login(env.client(), "alice@work.test").status_code == 401
    assert follow(env.client(), confirm).status_code == 404  # once
    assert audited(env, "email.change") == ["success"]


def test_not_me_on_an_email_change_request_cancels_it_and_locks(env):
    client = env.client()
    login(client, "alice")
    change_email(client)
    env.deliver()
    (not_me,) = env.links(
        env.mails("alice@work.test", "email_change_requested")[0], "account/not-me"
    )
    (confirm,) = env.links(env.mails("alice@new.test", "email_confirm")[0], "account/confirm")
    owner = env.client()
    follow(owner, not_me)
    assert press(owner, "/account/not-me").status_code == 303
    assert follow(env.client(), confirm).status_code == 404
    alice = env.user()
    assert alice.email == "alice@work.test" and alice.disabled
    env.deliver()
    assert env.mails("root@work.test", "admin_alert")


def test_new_email_taken_meanwhile_is_a_form_error(env):
    client = env.client()
    login(client, "alice")
    change_email(client, "bob@work.test")  # answered like any other address
    env.deliver()
    (confirm,) = env.links(env.mails("bob@work.test", "email_confirm")[0], "account/confirm")
    reader = env.client()
    follow(reader, confirm)
    assert press(reader, "/account/confirm").status_code == 422
    assert env.user().email == "alice@work.test"


def test_french_mail_and_pages(env):
    client = env.client()
    client.get("/?lang=fr")
    with env.db():
        User.update(language="fr").where(User.username == "alice").execute()
    post_form(client, "/password/forgot", {"identifier": "alice"})
    env.deliver()
    (text,) = env.mails("alice@work.test")
    assert "Firefox sous Windows" in text and "Adresse IP" in text
    (not_me,) = env.links(text, "account/not-me")
    page = follow(client, not_me)
    assert "Annuler le lien" in page.get_data(as_text=True)


def test_an_account_cannot_be_given_another_accounts_recovery_address(env):
    from portal import accounts

    client = env.client()
    login(client, "alice")
    add_backup(client)
    confirm_backup(env)
    with env.app.test_request_context():
        database.connect(reuse_if_open=True)
        with pytest.raises(accounts.AccountError) as refused:
            accounts.create_user("carol", email="Alice@Home.test", password=PASSWORD)
        database.close()
    assert refused.value.field == "email"


def test_the_audit_log_names_every_account_care_event(env):
    from portal.audit_log.labels import action_label

    actions = (
        "recovery.not_me",
        "account.not_me_lock",
        "email.change_request",
        "email.change",
        "backup_email.request",
        "backup_email.add",
        "backup_email.remove",
        "account.confirm",
        "account.link_invalid",
    )
    with env.app.test_request_context("/?lang=fr"):
        assert all(action_label(action) != action for action in actions)


def test_an_email_changed_by_an_administrator_can_be_reported_too(env):
    from portal.users import service as users

    with env.app.test_request_context():
        database.connect(reuse_if_open=True)
        root, alice = (User.get(User.username == name) for name in ("root", "alice"))
        data = users.UserData(
            username="alice",
            email="alice@elsewhere.test",
            first_name="Alice",
            last_name="",
            team_id=None,
            provider="identity",
            disabled=False,
        )
        assert "email" in users.update_user(root, alice, data)
        database.close()
    env.deliver()
    (notice,) = env.mails("alice@work.test", "email_changed")
    (not_me,) = env.links(notice, "account/not-me")
    client = env.client()
    follow(client, not_me)
    assert press(client, "/account/not-me").status_code == 303
    assert env.user().disabled
