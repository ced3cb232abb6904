"""Submitting the organisation settings form as a browser would (for the tests of features
that add a setting): the page's current values, with some changed or unticked."""

from __future__ import annotations

import re

from .helpers import csrf_of


def form_values(body: str) -> dict:
    """The values the settings page would submit as it is (text, checked boxes/radios, selects)."""
    data = {}
    for tag in re.findall(r"<input[^>]*>", body):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        kind = (re.search(r'type="([^"]+)"', tag) or [None, "text"])[1]
        value = re.search(r'value="([^"]*)"', tag)
        if kind in ("checkbox", "radio"):
            if "checked" in tag:
                data[name.group(1)] = value.group(1) if value else "y"
        else:
            data[name.group(1)] = value.group(1) if value else ""
    for name, inner in re.findall(
        r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', body, re.DOTALL
    ):
        chosen = re.search(
            r'<option[^>]*selected[^>]*value="([^"]*)"'
            r'|<option[^>]*value="([^"]*)"[^>]*selected',
            inner,
        )
        if chosen:
            data[name] = chosen.group(1) or chosen.group(2)
    return data


def submit_settings(client, changes: dict, headers=None):
    """POST the settings page with ``changes`` (None = leave the field out: unticked)."""
    page = client.get("/admin/settings")
    data = form_values(page.get_data(as_text=True))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    data["csrf_token"] = csrf_of(page)
    return client.post("/admin/settings", data=data, headers=headers or {})
