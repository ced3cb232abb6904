"""Services called directly, not through HTTP (issue 7): recovery, accounts, mail and the
bulk runner."""

from __future__ import annotations

import json

import pytest

from portal import accounts, links, mail, sessions
from portal.bulk import results
from portal.bulk import service as bulk
from portal.db import database
from portal.models import (
    AuditEvent,
    BulkJob,
    OutboxMail,
    PasswordHistory,
    RecoveryRequest,
    ResetToken,
    User,
    UserSession,
)
from portal.recovery import service as recovery
from portal.user_passwords.service import PASSWORD
from portal.users import service as users

from ..helpers import says

NEW = "quiet meadow copper 4471 kite"


def fresh(user: User) -> User:
    return User.get_by_id(user.id)


def actions() -> list[str]:
    return [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]


@pytest.fixture
def folks(ctx, make_user):
    made = {
        "admin": make_user("admin", role="admin"),
        "alice": make_user("alice"),
        "dis": make_user("dis"),
        "nomail": make_user("nomail", email=""),
    }
    database.connect(reuse_if_open=True)
    User.update(disabled=True).where(User.username_key == "dis").execute()
    return {name: fresh(user) for name, user in made.items()}


# --- recovery --------------------------------------------------------------------------


def test_process_pending_answers_each_request_once(folks):
    for identifier in ("alice", "ghost", "dis", "nomail"):
        recovery.request_recovery(identifier, "identity", "en", "203.0.113.9")
    assert recovery.process_pending() == 4
    assert recovery.process_pending() == 0  # already answered
    outcomes = {
        e.target_name: e.outcome
        for e in AuditEvent.select().where(AuditEvent.action == "recovery.request")
    }
    assert outcomes == {
        "alice": "sent",
        "ghost": "no_match",
        "dis": "disabled",
        "nomail": "no_email",
    }
    assert (
        ResetToken.select()
        .where((ResetToken.user == folks["alice"].id) & (ResetToken.purpose == "reset"))
        .count()
        == 1
    )
    assert RecoveryRequest.select().where(RecoveryRequest.processed_at.is_null()).count() == 0


def test_links_refusal_is_the_one_eligibility_rule(folks):
    assert links.refusal(None) == "no_match"
    assert links.refusal(folks["dis"]) == "disabled"
    assert links.refusal(folks["nomail"]) == "no_email"
    assert links.refusal(folks["alice"]) is None
    preview = bulk.eligibility([folks["alice"], folks["dis"], folks["nomail"]])
    assert (
        [u.username for u in preview.eligible],
        [u.username for u in preview.excluded],
        [u.username for u in preview.no_email],
    ) == (["alice"], ["dis"], ["nomail"])


def test_finish_checks_the_policy_then_uses_the_link_once(folks):
    state = links.lookup(links.issue(folks["alice"], "reset").token_hash)
    errors = recovery.finish(state, "short", "short")
    assert errors and links.lookup(state.token.token_hash).valid  # nothing used up
    assert recovery.finish(state, NEW, NEW) == []
    assert recovery.finish(state, NEW + " again", NEW + " again") is None  # used
    assert "password.reset" in actions()


# --- accounts --------------------------------------------------------------------------


def test_replace_password_stores_ends_sessions_tells_and_audits(folks, ctx):
    alice = folks["alice"]
    with database.atomic():
        sessions.start(alice)
    old_hash = alice.password_hash
    assert accounts.replace_password(
        alice, NEW, how="admin", action="admin.set_password", actor=folks["admin"]
    )
    alice = fresh(alice)
    assert alice.password_hash != old_hash and alice.last_reset_at is not None
    assert PasswordHistory.select().where(PasswordHistory.user == alice.id).count() == 1
    assert UserSession.select().where(UserSession.user == alice.id).count() == 0
    assert OutboxMail.get(OutboxMail.kind == "password_changed").recipient == alice.email
    event = AuditEvent.get(AuditEvent.action == "admin.set_password")
    assert event.actor_id == folks["admin"].id and event.target_id == alice.id


def test_replace_password_stops_when_the_claim_is_lost(folks):
    alice = folks["alice"]
    assert (
        accounts.replace_password(
            alice, NEW, how="reset", action="password.reset", claim=lambda: False
        )
        is False
    )
    assert fresh(alice).password_hash == alice.password_hash
    assert "password.reset" not in actions()


def test_check_unique_both_ways_and_the_field_it_names(folks):
    with pytest.raises(accounts.AccountError) as taken:
        accounts.check_unique("ALICE", None)
    assert taken.value.field == "username" and says(str(taken.value), "USER_EXISTS")
    with pytest.raises(accounts.AccountError) as email:
        accounts.check_unique("someone", "alice@example.test")
    assert email.value.field == "email"
    accounts.check_unique("alice", "alice@example.test", exclude_id=folks["alice"].id)


def test_update_user_enforces_the_rules_about_oneself(folks):
    admin = folks["admin"]
    data = users.UserData(
        username="admin",
        email=admin.email,
        first_name="",
        last_name="",
        team_id=None,
        provider="identity",
        disabled=True,
        role=admin.role,
    )
    with pytest.raises(accounts.AccountError) as refused:
        users.update_user(admin, admin, data)
    assert refused.value.field == "disabled" and says(str(refused.value), "SELF_DISABLE")
    data.disabled, data.role = False, "user"
    with pytest.raises(accounts.AccountError) as demoted:
        users.update_user(admin, admin, data)
    assert demoted.value.field == "role" and says(str(demoted.value), "SELF_ROLE")
    assert not fresh(admin).disabled and fresh(admin).role == admin.role


# --- mail ------------------------------------------------------------------------------


def test_mail_is_queued_then_delivered_and_recorded(folks, app):
    row = mail.queue("test", "someone@example.test", language="fr")
    assert OutboxMail.get_by_id(row.id).status == "queued"
    with mail.mail.record_messages() as sent:
        counts = mail.deliver_due()
    assert counts.get("sent") == 1 and len(sent) == 1
    assert sent[0].recipients == ["someone@example.test"]
    assert OutboxMail.get_by_id(row.id).status == "sent"
    with mail.mail.record_messages() as again:
        mail.deliver_due()
    assert again == []  # delivered once


# --- bulk ------------------------------------------------------------------------------


def test_bulk_execute_applies_each_user_and_records_a_summary(folks):
    admin, alice = folks["admin"], folks["alice"]
    job = BulkJob.create(public_id="job-disable", actor=admin, action="disable", total=1)
    bulk.execute(job.id, admin.id, "disable", [alice.id, 999999])
    job = BulkJob.get_by_id(job.id)
    assert job.status == "done" and (job.done, job.failed) == (2, 1)
    assert json.loads(job.summary) == {"action": "disable", "total": 2, "succeeded": 1, "failed": 1}
    assert fresh(alice).disabled
    assert actions()[-3:] == ["admin.disable", "admin.bulk_disable", "admin.bulk"]


def test_bulk_reset_results_are_shown_once(folks):
    admin, alice = folks["admin"], folks["alice"]
    job = BulkJob.create(public_id="job-reset", actor=admin, action="reset", total=1)
    bulk.execute(job.id, admin.id, "reset", [alice.id], reason="audit")
    job = BulkJob.get_by_id(job.id)
    shown = results.take_for_display(job, PASSWORD)
    assert [r["username"] for r in shown] == ["alice"] and shown[0]["password"]
    assert results.take_for_display(BulkJob.get_by_id(job.id), PASSWORD) is None
    assert fresh(alice).must_change
