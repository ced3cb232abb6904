"""Checklist section H: the audit log, against a live server."""

from __future__ import annotations

import re
from datetime import timedelta

from peewee import fn

from portal import tokens
from portal.models import AuditEvent, ResetToken, utcnow

from .client import NEW_PASSWORD, PASSWORD, cookie_payload
from .flows import admin_reset, admin_set_password, form_values, reset_with_link
from .live import wait_until


def mark(live) -> int:
    with live.db():
        return AuditEvent.select(fn.MAX(AuditEvent.id)).scalar() or 0


def rows_since(live, since: int, action: str) -> list[AuditEvent]:
    with live.db():
        return list(
            AuditEvent.select().where((AuditEvent.id > since) & (AuditEvent.action == action))
        )


FIELDS = {"target": "target_id", "actor": "actor_id"}


def one(live, since: int, action: str, *, outcome: str | None = None, **match):
    """Exactly one new event ``action`` about this subject (target id, typed name or ip)."""

    def found():
        rows = [
            r
            for r in rows_since(live, since, action)
            if all(getattr(r, FIELDS.get(k, k)) == v for k, v in match.items())
            and (outcome is None or r.outcome == outcome)
        ]
        return rows or None

    rows = wait_until(found, timeout=5)
    assert len(rows) == 1, (action, [(r.outcome, r.detail) for r in rows])
    return rows[0]


def test_H1_every_authentication_event_is_logged(live, admin):
    alice = live.account("hone")
    browser = live.client()
    m = mark(live)
    browser.login(alice.username)
    one(live, m, "login.success", target=alice.id)
    m = mark(live)
    live.client().login(alice.username, "wrong password entirely h1")
    one(live, m, "login.failure", target=alice.id, outcome="failure")
    for _ in range(4):
        live.client().login(alice.username, "wrong password entirely h1")
    one(live, m, "account.lock", target=alice.id)
    m = mark(live)
    admin[1].form(f"/admin/users/{alice.id}/unlock", {}, page="/admin/users")
    one(live, m, "admin.unlock", target=alice.id)
    m = mark(live)
    browser.logout()
    one(live, m, "logout", target=alice.id)
    m = mark(live)
    live.client().form("/password/forgot", {"identifier": "ghosthone"})
    one(live, m, "recovery.request", target_name="ghosthone")
    link = live.request_link(alice)
    one(live, m, "recovery.request", target=alice.id, outcome="sent")
    m = mark(live)
    assert reset_with_link(live.client(), link, NEW_PASSWORD).status == 303
    one(live, m, "password.reset", target=alice.id)
    for kind in ("invalid", "expired"):
        visitor = live.client()
        if kind == "invalid":
            visitor.get(f"/password/reset/{tokens.new_token()[0]}")
        else:
            expired = live.request_link(alice)
            live.age(
                ResetToken,
                ResetToken.token_hash == tokens.digest(expired.split("/")[-1]),
                expires_at=3600,
            )
            visitor.get(expired)
        m = mark(live)
        visitor.get("/password/reset")
        one(live, m, "recovery.link_invalid", ip=visitor.ip)
    m = mark(live)
    browser.login(alice.username, NEW_PASSWORD)
    assert browser.change_password(NEW_PASSWORD, "harvest tunnel 8841 maple").status == 303
    one(live, m, "password.change", target=alice.id, outcome="success")
    _page, temp = admin_reset(admin[1], alice.id)
    m = mark(live)
    forced = live.client()
    forced.login(alice.username, temp)
    assert forced.change_password(temp, "orchid basalt 2290 comet").status == 303
    one(live, m, "password.change", target=alice.id, outcome="success")
    m = mark(live)
    admin[1].form(f"/admin/users/{alice.id}/sessions/end", {}, page="/admin/users")
    one(live, m, "admin.end_sessions", target=alice.id)
    m = mark(live)
    stranger = live.client()
    stranger.post("/login", {"identifier": "x", "password": "y"})
    one(live, m, "csrf.failure", ip=stranger.ip)
    limited = live.client(strict=True)
    token = limited.get("/password/forgot").csrf()
    for _ in range(10):
        limited.post("/password/forgot", {"identifier": "ghosthone", "csrf_token": token})
    m = mark(live)
    assert (
        limited.post("/password/forgot", {"identifier": "ghosthone", "csrf_token": token}).status
        == 429
    )
    one(live, m, "ratelimit.hit", ip=limited.ip)


def test_H2_admin_actions_with_full_context(live, admin):
    account, browser = admin
    victims = [live.account("htwo") for _ in range(3)]
    target = victims[0]
    m = mark(live)
    admin_reset(browser, target.id)
    browser.form(f"/admin/users/{target.id}/unlock", {}, page="/admin/users")
    admin_set_password(browser, target.id, NEW_PASSWORD)
    path = f"/admin/users/{target.id}/edit"
    values = form_values(browser.get(path).text, path)
    values["role"] = "admin"
    assert browser.post(path, values).status in (200, 303)
    browser.form(f"/admin/users/{target.id}/sessions/end", {}, page="/admin/users")
    response = browser.form(
        "/admin/users/bulk/recovery", {"ids": [v.id for v in victims[1:]]}, page="/admin/users"
    )
    assert response.status in (200, 202)
    for action in (
        "admin.reset",
        "admin.unlock",
        "admin.set_password",
        "user.update",
        "admin.end_sessions",
    ):
        row = one(live, m, action, target=target.id)
        assert (row.actor_id, row.actor_name, row.ip, row.outcome) == (
            account.id,
            account.username,
            browser.ip,
            "success",
        ), action
        assert abs(row.created_at - utcnow()) < timedelta(minutes=5)  # stored in UTC
    assert "admin" in one(live, m, "user.update", target=target.id).detail
    for victim in victims[1:]:
        row = one(live, m, "admin.bulk_recovery", target=victim.id)
        assert row.actor_id == account.id
    summary = one(live, m, "admin.bulk", actor=account.id)
    assert '"recovery"' in summary.detail or "recovery" in summary.detail


def test_H3_denied_authorization_is_logged(live):
    alice = live.account("hthree", team="Team H")
    bob = live.account("hthreeb", team="Team I")
    manager = live.account("hmgr", role="manager", team="Team H", manages=alice.username)
    browser = live.client()
    browser.login(manager.username)
    m = mark(live)
    assert browser.get(f"/admin/users/{bob.id}").status == 403
    row = one(live, m, "access.denied", actor=manager.id)
    assert row.outcome == "denied" and str(bob.id) in row.detail
    plain = live.client()
    plain.login(alice.username)
    m = mark(live)
    assert plain.get("/admin/audit").status == 403
    one(live, m, "access.denied", actor=alice.id)


def test_H4_no_secrets_in_logs(live, admin):
    victim = live.account("hfour")
    typed = "lighthouse parsnip 5512 orbit"
    admin_set_password(admin[1], victim.id, typed)
    _page, temp = admin_reset(admin[1], victim.id)
    link = live.request_link(victim)
    browser = live.client()
    browser.login(victim.username, temp)
    secrets_ = [
        typed,
        temp,
        link.rsplit("/", 1)[1],
        cookie_payload(browser.session)["sid"],
        browser.session,
        PASSWORD,
    ]
    logs = live.logs()
    with live.db():
        texts = [
            " ".join((r.detail or "", r.target_name or "", r.actor_name or ""))
            for r in AuditEvent.select()
        ]
    for secret in secrets_:
        assert secret not in logs
        assert not any(secret in text for text in texts)


def test_H5_log_injection_is_neutralized(live, admin):
    forged = "x\r\n2026-01-01T00:00:00Z admin LOGIN_SUCCESS"
    response = live.client().login(forged, "wrong password entirely h5")
    assert response.status in (401, 422)
    live.client().form("/password/forgot", {"identifier": forged})
    with live.db():
        rows = list(AuditEvent.select().where(AuditEvent.target_name.contains("LOGIN_SUCCESS")))
        assert all("\n" not in r.target_name and "\r" not in r.target_name for r in rows)
        assert not AuditEvent.select().where(AuditEvent.actor_name == "admin").exists()
    assert not re.search(r"^2026-01-01T00:00:00Z", live.logs(), re.M)
    page = admin[1].get("/admin/audit?q=LOGIN_SUCCESS").text
    assert "\r\n2026-01-01" not in page


def test_H6_audit_log_is_read_only_and_scoped(live, admin):
    alice = live.account("hsix", team="Team J")
    outsider = live.account("hsixb", team="Team K")
    manager = live.account("hsixmgr", role="manager", team="Team J", manages=alice.username)
    token = admin[1].get("/admin/audit").csrf()
    with live.db():
        before = AuditEvent.select().count()
    for method in ("DELETE", "PUT", "POST", "PATCH"):
        for path in ("/admin/audit", "/admin/audit/export.csv"):
            response = admin[1].request(
                method, path, {"csrf_token": token}, headers={"X-CSRFToken": token}
            )
            assert response.status == 405, (method, path, response.status)
    with live.db():
        assert AuditEvent.select().count() >= before  # nothing deleted
    live.client().login(outsider.username, "wrong password entirely h6")
    live.client().login(alice.username, "wrong password entirely h6")
    browser = live.client()
    browser.login(manager.username)
    page = browser.get("/admin/audit").text
    assert alice.username in page and outsider.username not in page
    csv = browser.get("/admin/audit/export.csv").text
    assert alice.username in csv and outsider.username not in csv
    plain = live.client()
    plain.login(alice.username)
    assert plain.get("/admin/audit").status == 403
    assert plain.get("/admin/audit/export.csv").status == 403


def test_H7_client_address_from_the_socket(live):
    alice = live.account("hseven")
    browser = live.client()
    m = mark(live)
    token = browser.get("/login").csrf()
    browser.post(
        "/login",
        {"identifier": alice.username, "password": PASSWORD, "csrf_token": token},
        headers={"X-Forwarded-For": "1.2.3.4", "X-Real-IP": "1.2.3.4", "Forwarded": "for=1.2.3.4"},
    )
    row = one(live, m, "login.success", target=alice.id)
    assert row.ip == browser.ip != "1.2.3.4"
