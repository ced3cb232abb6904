"""Step-up re-authentication: the htmx dialog endpoint and the replay headers."""

from __future__ import annotations

from datetime import timedelta

from portal.db import database
from portal.models import AuditEvent, UserSession, utcnow

from ..helpers import PASSWORD, csrf_of, login, says


def stale(app):
    with app.app_context():
        database.connect(reuse_if_open=True)
        UserSession.update(authenticated_at=utcnow() - timedelta(hours=1)).execute()


def test_stale_session_gets_the_dialog_and_can_continue(app, client, make_user):
    make_user("boss", role="admin")
    login(client, "boss")
    stale(app)
    token = csrf_of(client.get("/admin/settings"))
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    refused = client.post(
        "/admin/settings", data={"ORG_NAME": "Ecole Jules Ferry"}, headers=headers
    )
    assert refused.status_code == 401
    assert refused.headers["HX-Reauth"] == "true" and refused.headers["HX-Retarget"] == "body"
    body = refused.get_data(as_text=True)
    assert "<dialog" in body and 'data-hx-post="/admin/reauth"' in body
    wrong = client.post(
        "/admin/reauth", data={"reauth_password": "not my password at all"}, headers=headers
    )
    assert wrong.status_code == 422 and says(wrong.get_data(as_text=True), "WRONG_PASSWORD")
    right = client.post("/admin/reauth", data={"reauth_password": PASSWORD}, headers=headers)
    assert right.status_code == 200 and right.headers["HX-Reauthenticated"] == "true"
    with app.app_context():
        database.connect(reuse_if_open=True)
        outcomes = [e.outcome for e in AuditEvent.select().where(AuditEvent.action == "reauth")]
        assert outcomes == ["failure", "success"]


def test_plain_form_fallback_reposts_the_fields(app, client, make_user):
    make_user("boss", role="admin")
    login(client, "boss")
    stale(app)
    token = csrf_of(client.get("/admin/settings"))
    refused = client.post("/admin/settings", data={"ORG_NAME": "Ecole", "csrf_token": token})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 401 and 'name="ORG_NAME" value="Ecole"' in body
    assert 'action="/admin/settings"' in body


def test_reauth_requires_sign_in_and_csrf(app, client, make_user):
    assert client.post("/admin/reauth", data={"reauth_password": "x"}).status_code in (400, 302)
