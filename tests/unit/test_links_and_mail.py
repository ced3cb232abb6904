"""The links module and the mail queue, called directly (not through HTTP)."""

from __future__ import annotations

from datetime import datetime

import pytest

from portal import links, mail, tokens
from portal.db import database, insert_rows
from portal.models import AuditEvent, OutboxMail, ResetToken, User


@pytest.fixture
def alice(ctx, make_user):
    user = make_user("alice", language="fr")
    database.connect(reuse_if_open=True)
    return User.get_by_id(user.id)


def _raw_token_of(row: OutboxMail) -> str:
    _subject, text, _html = mail.render(row)
    return text.split("/password/reset/")[1].split()[0]


def test_issue_voids_the_older_link_and_queues_an_encrypted_mail(alice):
    first = links.issue(alice, "reset")
    second = links.issue(alice, "reset")
    assert ResetToken.get_by_id(first.id).used_at is not None
    assert ResetToken.get_by_id(second.id).used_at is None
    row = OutboxMail.select().order_by(OutboxMail.id.desc()).get()
    assert row.encrypted and row.language == "fr" and "password/reset" not in row.context
    raw = _raw_token_of(row)
    assert tokens.digest(raw) == second.token_hash  # the mail carries the new link
    assert links.lookup(second.token_hash).valid and not links.lookup(first.token_hash).valid


def test_consume_works_once(alice):
    state = links.lookup(links.issue(alice, "reset").token_hash)
    assert links.consume(state) is True
    assert links.consume(state) is False
    assert not links.lookup(state.token.token_hash).valid


def test_issue_many_matches_issue_one_by_one(ctx, make_user):
    made = [make_user(f"user{i}") for i in range(5)]
    database.connect(reuse_if_open=True)
    users = [User.get_by_id(u.id) for u in made]
    old = links.issue(users[0], "reset")
    before = OutboxMail.select().count()
    links.issue_many(
        users,
        [
            {
                "action": "admin.bulk_recovery",
                "target": u.id,
                "target_name": u.username,
                "created_at": datetime(2026, 1, 1),
            }
            for u in users
        ],
    )
    assert ResetToken.get_by_id(old.id).used_at is not None
    active = ResetToken.select().where(
        ResetToken.used_at.is_null() & ResetToken.purpose.in_(links.PASSWORD_KINDS)
    )
    assert sorted(t.user_id for t in active) == sorted(u.id for u in users)
    rows = list(OutboxMail.select().order_by(OutboxMail.id).offset(before))
    assert len(rows) == 5 and all(r.encrypted and r.subject for r in rows)
    for row in rows:  # each mail carries its own user's live link
        token = links.lookup(tokens.digest(_raw_token_of(row)))
        assert token.valid and token.user.id == row.user_id
    assert AuditEvent.select().where(AuditEvent.action == "admin.bulk_recovery").count() == 5


def test_mail_context_round_trips_datetimes_and_refuses_objects(ctx):
    when = datetime(2026, 11, 29, 17, 30)
    row = OutboxMail.create(
        **mail.prepare("test", "ops@example.test", language="en", expires_at=when, note="x")
    )
    assert not row.encrypted and '"$datetime"' in row.context
    subject, text, html = mail.render(OutboxMail.get_by_id(row.id))
    assert subject.endswith("test email") and text and html
    with pytest.raises(TypeError):
        mail.prepare("test", "ops@example.test", language="en", user_obj=object())


def test_a_secret_context_is_unreadable_with_another_key(ctx, alice):
    links.issue(alice, "reset")
    row = OutboxMail.select().order_by(OutboxMail.id.desc()).get()
    ctx.config["SECRET_KEY"] = "another-key"
    _subject, text, html = mail.render(row)
    assert text == "" and html == ""  # never sent; the worker marks it failed


def test_insert_rows_fills_the_model_defaults(ctx):
    insert_rows(
        AuditEvent,
        [
            {"action": "test.one", "created_at": datetime(2026, 1, 1)},
            {"action": "test.two", "created_at": datetime(2026, 1, 2)},
        ],
    )
    rows = list(AuditEvent.select().where(AuditEvent.action.startswith("test.")))
    assert [r.action for r in rows] == ["test.one", "test.two"]
    assert all(r.outcome == "success" and r.detail == "" and r.actor_id is None for r in rows)
