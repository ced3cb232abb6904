"""Mail through a real SMTP server (aiosmtpd started by the test): delivery, outage, retry."""

from __future__ import annotations

import re
import socket

from portal.db import database
from portal.models import AuditEvent, OutboxMail, utcnow

from ..helpers import PASSWORD, SMTPSink, login, post_form, prepare_database


def smtp_app(make_app, port):
    app = make_app(MAIL_PORT=port, MAIL_SUPPRESS_SEND=False, MAIL_RETRY_BASE_SECONDS=1)
    prepare_database(app)
    return app


def deliver(app):
    from portal.worker import run_once

    with app.app_context():
        database.connect(reuse_if_open=True)
        counts = run_once()
        database.close()
    return counts


def test_recovery_end_to_end_through_real_smtp(make_app, smtp_server):
    app = smtp_app(make_app, smtp_server.port)
    from portal.accounts import create_user

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        create_user(
            "alice",
            email="alice@example.test",
            first_name="Alice",
            password=PASSWORD,
            language="fr",
        )
    client = app.test_client()
    post_form(client, "/password/forgot", {"identifier": "alice@example.test"})
    assert deliver(app)["sent"] == 1
    ((rcpts, msg),) = smtp_server.messages
    assert rcpts == ["alice@example.test"]
    assert msg.is_multipart()  # text and HTML
    text = smtp_server.text_of(msg)
    assert "Bonjour" in text  # the recipient's language
    link = re.search(r"http://localhost(/password/reset/\S+)", text).group(1)
    client.get(link)
    new = "ocean breeze kettle 2042"
    assert (
        post_form(client, "/password/reset", {"password": new, "confirm": new}).status_code == 303
    )
    assert login(app.test_client(), "alice", new).status_code == 303


def test_outage_loses_nothing_and_retries(make_app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here yet
    app = smtp_app(make_app, port)
    from portal import mail

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        mail.queue("test", "ops@example.test")
    assert deliver(app)["retry"] == 1
    with app.app_context():
        database.connect(reuse_if_open=True)
        row = OutboxMail.get()
        assert row.status == "queued" and row.attempts == 1 and row.last_error
        assert row.next_attempt_at > utcnow()
        OutboxMail.update(next_attempt_at=utcnow()).execute()
    sink = SMTPSink()
    sink.port = port
    from aiosmtpd.controller import Controller

    sink.controller = Controller(sink.controller.handler, hostname="127.0.0.1", port=port)
    sink.start()
    try:
        assert deliver(app)["sent"] == 1
        assert len(sink.messages) == 1
    finally:
        sink.stop()
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert OutboxMail.get().status == "sent"
        assert AuditEvent.select().where(AuditEvent.action == "mail.sent").count() == 1


def test_gives_up_after_max_attempts_and_audits(make_app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app(MAIL_PORT=port, MAIL_SUPPRESS_SEND=False, MAIL_MAX_ATTEMPTS=2)
    prepare_database(app)
    from portal import mail

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        mail.queue("test", "ops@example.test")
    deliver(app)
    with app.app_context():
        database.connect(reuse_if_open=True)
        OutboxMail.update(next_attempt_at=utcnow()).execute()
    assert deliver(app)["failed"] == 1
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert OutboxMail.get().status == "failed"
        assert AuditEvent.get(AuditEvent.action == "mail.failed").outcome == "failure"


def test_two_workers_never_send_the_same_mail_twice(make_app, smtp_server):
    import threading

    app = smtp_app(make_app, smtp_server.port)
    from portal import mail

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        for i in range(10):
            mail.queue("test", f"u{i}@example.test")
    threads = [threading.Thread(target=deliver, args=(app,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r[0][0] for r in smtp_server.messages) == sorted(
        f"u{i}@example.test" for i in range(10)
    )
