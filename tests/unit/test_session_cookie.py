"""The signed session cookie (portal/sessions.py ``SignedCookieSessions``): the serializer
built once must keep Flask's format, refuse tampering and follow a key change."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

from portal.sessions import SignedCookieSessions


def test_same_cookie_format_as_flask(app):
    ours = SignedCookieSessions().get_signing_serializer(app)
    flask = SecureCookieSessionInterface().get_signing_serializer(app)
    data = {"sid": "abc", "lang": "fr", "csrf_token": "t" * 40}
    assert flask.loads(ours.dumps(data)) == data
    assert ours.loads(flask.dumps(data)) == data


def test_tampered_cookie_is_refused(client):
    english = {"Accept-Language": "en"}
    client.get("/login?lang=fr")  # remembered in the session cookie
    assert '<html lang="fr">' in client.get("/login", headers=english).get_data(as_text=True)
    cookie = client.get_cookie("passgate_session").value
    forged = cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB")
    client.set_cookie("passgate_session", forged)
    assert '<html lang="en">' in client.get("/login", headers=english).get_data(as_text=True)


def test_secret_key_change_and_fallback(app):
    interface = SignedCookieSessions()
    old = interface.get_signing_serializer(app).dumps({"sid": "x"})
    app.config["SECRET_KEY_FALLBACKS"] = [app.secret_key]
    app.secret_key = "a brand new secret key for this test only"
    rotated = interface.get_signing_serializer(app)
    assert rotated.loads(old) == {"sid": "x"}  # still valid through the fallback
    new = rotated.dumps({"sid": "y"})
    app.config["SECRET_KEY_FALLBACKS"] = []
    plain = interface.get_signing_serializer(app)
    assert plain.loads(new) == {"sid": "y"}
    try:
        plain.loads(old)
    except Exception as exc:  # noqa: BLE001 — itsdangerous.BadSignature
        assert type(exc).__name__ == "BadTimeSignature"
    else:
        raise AssertionError("a cookie signed with a retired key was accepted")
