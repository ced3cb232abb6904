"""Helpers shared by the passcode test modules."""

from __future__ import annotations

from portal import settings
from portal.db import database
from portal.passcodes import apikeys, service

GOOD = "730541"
OTHER = "918264"


def configure(app, **values):
    """Store organisation settings (PASSCODES_ENABLED=True by default)."""
    values = {"PASSCODES_ENABLED": True, **values}
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        settings.save(values)
        database.close()


def in_ctx(app, fn, *args, **kwargs):
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        try:
            return fn(*args, **kwargs)
        finally:
            database.close()


def set_passcode(app, user, code=GOOD):
    in_ctx(app, service.change_own, user, code)


def new_key(app, admin, name="phone system") -> str:
    return in_ctx(app, apikeys.create, admin, name)[1]


def verify(client, key, username, passcode, as_json=True):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = {"username": username, "passcode": passcode}
    if as_json:
        return client.post("/api/passcode/verify", json=data, headers=headers)
    return client.post("/api/passcode/verify", data=data, headers=headers)
