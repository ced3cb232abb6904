"""Helpers shared by the passcode test modules."""

from __future__ import annotations

import re

from portal import settings
from portal.db import database
from portal.models import Passcode
from portal.passcodes import apikeys, service

from ..helpers import csrf_of

GOOD = "730541"
OTHER = "918264"
TEMP_RE = re.compile(r'<input type="hidden" name="passcode" value="([0-9]+)">')


def account_post(client, **data):
    token = csrf_of(client.get("/account/passcode"))
    return client.post("/account/passcode", data={"csrf_token": token, **data})


def passcode_row(app, user):
    with app.app_context():
        database.connect(reuse_if_open=True)
        return Passcode.get_or_none(Passcode.user == user.id)


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
