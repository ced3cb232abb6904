"""Self-service recovery through the test client (mail through the suppressed outbox)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from portal import links
from portal.db import database
from portal.models import AuditEvent, OutboxMail, RecoveryRequest, ResetToken, User, utcnow

from ..helpers import (
    LINK_RE,
    PASSWORD,
    csrf_of,
    forgot,
    link_from,
    login,
    normalize,
    path_of,
    post_form,
    says,
    subject,
)

NEW = "ocean breeze kettle 2042"


def test_forgot_page_wording(client):
    body = client.get("/password/forgot").get_data(as_text=True)
    assert says(body, "FORGOT_LINK")
    assert 'name="identifier"' in body


def test_same_answer_for_every_kind_of_identifier(app, client, make_user):
    make_user("alice")
    make_user("dis")
    with app.app_context():
        database.connect(reuse_if_open=True)
        User.update(disabled=True).where(User.username_key == "dis").execute()
    answers = set()
    for identifier in ["alice", "alice@example.test", "ghost", "ghost@example.test", "dis"]:
        response = forgot(client, identifier)
        assert response.status_code == 303
        answers.add((response.headers["Location"], normalize(response.get_data(as_text=True))))
        page = client.get(response.headers["Location"])
        answers.add(normalize(page.get_data(as_text=True)))
    assert len(answers) == 2  # one redirect, one page


def test_request_changes_nothing_until_the_link_is_used(app, client, make_user, outbox):
    make_user("alice")
    forgot(client, "alice")
    outbox.deliver()
    assert login(app.test_client(), "alice").status_code == 303
    with app.app_context():
        database.connect(reuse_if_open=True)
        user = User.get(User.username_key == "alice")
        assert not user.must_change and not user.is_locked


def test_full_reset_flow(app, client, make_user, outbox):
    make_user("alice")
    other = app.test_client()
    login(other, "alice")
    assert forgot(client, "ALICE@example.test").status_code == 303
    messages = outbox.deliver()
    assert len(messages) == 1 and messages[0].recipients == ["alice@example.test"]
    link = link_from(messages, "alice@example.test")
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43
    # The mail scanner's GET does not consume the token; the landing drops it from the URL.
    landing = client.get(path_of(link))
    assert landing.status_code == 302 and landing.headers["Location"] == "/password/reset"
    assert landing.headers["Referrer-Policy"] == "no-referrer"
    assert landing.headers["Cache-Control"] == "no-store"
    page = client.get("/password/reset")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and token not in body
    assert "data-countdown" in body and says(body, "CHOOSE_NEW_PASSWORD")
    response = post_form(client, "/password/reset", {"password": NEW, "confirm": NEW})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    # Not signed in automatically; other sessions ended; old password dead; new one works.
    assert client.get("/").status_code == 302
    assert other.get("/").status_code == 302
    assert login(app.test_client(), "alice").status_code == 401
    assert login(app.test_client(), "alice", NEW).status_code == 303
    notices = outbox.deliver()
    changed = subject(app, "password_changed")
    assert any(m.subject == changed and NEW not in m.body for m in notices)
    # Used link: same invalid page on GET and POST.
    client.get(path_of(link))
    assert client.get("/password/reset").status_code == 404
    again = client.post(
        "/password/reset",
        data={
            "password": "another good passphrase 77",
            "confirm": "another good passphrase 77",
            "csrf_token": csrf_of(client.get("/login")),
        },
    )
    assert again.status_code == 404
    with app.app_context():
        database.connect(reuse_if_open=True)
        actions = {e.action for e in AuditEvent.select()}
        assert {"recovery.request", "password.reset", "mail.sent"} <= actions


def test_token_is_stored_only_as_a_hash_and_mail_body_is_encrypted(app, client, make_user, outbox):
    make_user("alice")
    forgot(client, "alice")
    with app.app_context():
        database.connect(reuse_if_open=True)
        from portal.recovery.service import process_pending

        process_pending()
        row = OutboxMail.get(OutboxMail.kind == "reset")
        assert row.encrypted and row.context and "password/reset" not in row.context
        assert row.body_text == ""  # rendered only when sent
    messages = outbox.deliver()
    token = link_from(messages, "alice@example.test").rsplit("/", 1)[1]
    with app.app_context():
        database.connect(reuse_if_open=True)
        dump = " ".join(str(v) for t in ResetToken.select().tuples() for v in t)
        dump += " ".join(str(v) for t in OutboxMail.select().tuples() for v in t)
        dump += " ".join(str(v) for t in AuditEvent.select().tuples() for v in t)
        assert token not in dump
        assert OutboxMail.get(OutboxMail.kind == "reset").context == ""  # cleared once sent


def test_policy_errors_keep_the_token(app, client, make_user, outbox):
    make_user("alice")
    forgot(client, "alice")
    link = link_from(outbox.deliver(), "alice@example.test")
    client.get(path_of(link))
    mismatch = post_form(client, "/password/reset", {"password": NEW, "confirm": NEW + "x"})
    assert mismatch.status_code == 422 and says(mismatch.get_data(as_text=True), "PASSWORDS_DIFFER")
    common = post_form(
        client, "/password/reset", {"password": "password1234567", "confirm": "password1234567"}
    )
    assert common.status_code == 422
    assert (
        post_form(client, "/password/reset", {"password": NEW, "confirm": NEW}).status_code == 303
    )


def test_expired_link(app, client, make_user, outbox):
    make_user("alice")
    forgot(client, "alice")
    link = link_from(outbox.deliver(), "alice@example.test")
    with app.app_context():
        database.connect(reuse_if_open=True)
        ResetToken.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    client.get(path_of(link))
    page = client.get("/password/reset")
    assert page.status_code == 404
    assert 'href="/password/forgot"' in page.get_data(as_text=True)


def test_invalid_expired_and_used_look_the_same(app, client, make_user, outbox):
    client.get("/password/reset/" + "A" * 43)
    random_page = client.get("/password/reset")
    assert random_page.status_code == 404
    make_user("alice")
    forgot(client, "alice")
    link = link_from(outbox.deliver(), "alice@example.test")
    with app.app_context():
        database.connect(reuse_if_open=True)
        ResetToken.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    client.get(path_of(link))
    expired_page = client.get("/password/reset")
    assert normalize(random_page.get_data(as_text=True)) == normalize(
        expired_page.get_data(as_text=True)
    )


def test_newer_link_voids_the_older_one(app, client, make_user, outbox):
    make_user("alice")
    forgot(client, "alice")
    first = link_from(outbox.deliver(), "alice@example.test")
    forgot(client, "alice")
    messages = outbox.deliver()
    second = LINK_RE.search(messages[-1].body).group(0)
    assert first != second
    client.get(path_of(first))
    assert client.get("/password/reset").status_code == 404
    client.get(path_of(second))
    assert client.get("/password/reset").status_code == 200


def test_link_dies_when_the_password_changes_another_way(app, client, make_user, outbox):
    make_user("alice")
    forgot(client, "alice")
    link = link_from(outbox.deliver(), "alice@example.test")
    other = app.test_client()
    login(other, "alice")
    post_form(
        other, "/password/change", {"current_password": PASSWORD, "password": NEW, "confirm": NEW}
    )
    client.get(path_of(link))
    assert client.get("/password/reset").status_code == 404


def test_reset_unlocks_a_hard_locked_account(app, client, make_user, outbox):
    make_user("alice")
    with app.app_context():
        database.connect(reuse_if_open=True)
        User.update(hard_locked=True, failed_count=50).execute()
    forgot(client, "alice")
    client.get(path_of(link_from(outbox.deliver(), "alice@example.test")))
    post_form(client, "/password/reset", {"password": NEW, "confirm": NEW})
    assert login(client, "alice", NEW).status_code == 303
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert User.get(User.username_key == "alice").failed_count == 0


def test_per_account_mail_limit(make_app, make_user, outbox):
    from ..helpers import prepare_database

    app = make_app(RESET_MAILS_PER_WINDOW=3)
    prepare_database(app)
    client = app.test_client()
    from portal.accounts import create_user

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        create_user("alice", email="alice@example.test", password=PASSWORD)
    answers = {forgot(client, "alice").headers["Location"] for _ in range(4)}
    assert answers == {"/password/forgot/sent"}
    with app.app_context():
        database.connect(reuse_if_open=True)
        from portal.worker import run_once

        run_once()
        assert OutboxMail.select().where(OutboxMail.kind == "reset").count() == 3
        outcomes = [
            e.outcome for e in AuditEvent.select().where(AuditEvent.action == "recovery.request")
        ]
        assert outcomes.count("rate_limited") == 1


def test_per_ip_limit_on_forgot(make_app):
    from ..helpers import prepare_database

    app = make_app(LIMIT_FORGOT="2 per 15 minutes")
    prepare_database(app)
    client = app.test_client()
    codes = [forgot(client, f"user{i}").status_code for i in range(3)]
    assert codes == [303, 303, 429]


def test_token_guessing_is_throttled(make_app):
    from ..helpers import prepare_database

    app = make_app(LIMIT_RESET_TOKEN="3 per minute")
    prepare_database(app)
    client = app.test_client()
    codes = [client.get(f"/password/reset/guess{i}").status_code for i in range(4)]
    assert codes == [302, 302, 302, 429]
    assert client.get("/password/reset/guess9").headers.get("Retry-After")


def test_invitation_uses_first_password_wording(app, client, make_user, outbox):
    make_user("newbie", password=None)
    messages = outbox.deliver()
    assert "first" in messages[0].subject.lower()
    client.get(path_of(link_from(messages, "newbie@example.test")))
    assert says(client.get("/password/reset").get_data(as_text=True), "SET_FIRST_PASSWORD")
    post_form(client, "/password/reset", {"password": NEW, "confirm": NEW})
    assert login(client, "newbie", NEW).status_code == 303


def test_link_host_comes_from_configuration(app, client, make_user, outbox):
    make_user("alice")
    page = client.get("/password/forgot")
    client.post(
        "/password/forgot",
        data={"identifier": "alice", "csrf_token": csrf_of(page)},
        headers={"X-Forwarded-Host": "evil.example", "Forwarded": "host=evil.example"},
    )
    body = outbox.deliver()[0].body
    assert "http://localhost/password/reset/" in body and "evil" not in body


def test_crlf_identifier_is_a_validation_error(client, outbox):
    response = forgot(client, "alice@example.test\r\nBcc: x@evil.example")
    assert response.status_code == 422
    assert outbox.deliver() == []


def test_concurrent_use_of_one_link_succeeds_once(app, make_user, outbox):
    from portal.recovery import service

    make_user("alice")
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        user = User.get(User.username_key == "alice")
        token = links.issue(user, "reset")
        digest = token.token_hash
    results = []

    def attempt(password):
        with app.test_request_context():
            database.connect(reuse_if_open=True)
            state = links.lookup(digest)
            if state.valid:
                results.append((password, service.complete(state, password)))
            database.close()

    threads = [threading.Thread(target=attempt, args=(f"{NEW} {i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [p for p, ok in results if ok]
    assert len(winners) == 1


def test_recovery_requests_are_resolved_by_the_worker_not_the_request(app, client, make_user):
    make_user("alice")
    forgot(client, "alice")
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert RecoveryRequest.select().count() == 1
        assert ResetToken.select().count() == 0  # nothing resolved inside the request


@pytest.mark.parametrize("ttl", ["end-of-day"])
def test_end_of_day_lifetime(make_app, make_user, ttl):
    from ..helpers import prepare_database

    app = make_app(RESET_LINK_TTL=ttl, TIMEZONE="Europe/Paris")
    prepare_database(app)
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        from portal.accounts import create_user
        from portal.links import issue as issue_link

        user, _ = create_user("alice", email="alice@example.test", password=PASSWORD)
        token = issue_link(user, "reset")
        from zoneinfo import ZoneInfo

        local = token.expires_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(
            ZoneInfo("Europe/Paris")
        )
        assert (local.hour, local.minute) == (0, 0)
        assert timedelta(0) < token.expires_at - utcnow() <= timedelta(hours=24)
