"""Property-based fuzzing (hypothesis) of every route of the app, as anonymous, user,
manager and administrator, in-process through the Flask test client.

For each route of the url_map (minus ``fuzz_world.EXCLUDED``) and each method, hypothesis
draws a role, path parameters (existing ids, missing ones, huge numbers, arbitrary text),
query and form fields (names the code and templates really read, or arbitrary ones; any
number of times, or missing) with arbitrary text, raw bytes that are not UTF-8, extreme
numbers and dates, as a plain or an htmx request, url-encoded or multipart (with a file),
mostly with a valid CSRF token, with or without headers the app reads (htmx, Fetch
Metadata, Origin, Accept-Language) holding any value. Two properties must hold:

* never a 5xx;
* the account rows never change without valid input: password, security stamp, role,
  email, disabled flag never change at all (every session is past the step-up window and
  the fuzzer never knows a password); names, username, team and provider change only on a
  successful answer and only to a value that was sent; a refused request (4xx) changes no
  account and creates none.

A second pass (``test_fuzz_route_fresh_session``) sends the same garbage to every route
that changes something, as manager and administrator whose sessions are *inside* the
step-up window, so it reaches the forms behind the password dialog; there a privileged
change can be valid input, so the property is: never a 5xx, and a refused request changes
no account (the fuzzing accounts are put back after each example).

``PASSGATE_FUZZ_EXAMPLES`` sets the number of examples per route and method (default 15;
the second pass a third of it).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import unicodedata
from urllib.parse import quote, quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from portal import create_app

from ..helpers import base_overrides
from .fuzz_world import (
    EXCLUDED,
    NEVER_WITHOUT_PASSWORD,
    PROFILE,
    ROLES,
    World,
    field_names,
    routes,
)

EXAMPLES = int(os.environ.get("PASSGATE_FUZZ_EXAMPLES", "15"))
FRESH_EXAMPLES = max(3, EXAMPLES // 3)


def _bare_app():
    """An app only for its url_map (no database is opened)."""
    scratch = tempfile.mkdtemp(prefix="passgate-fuzz-")
    return create_app(
        {**base_overrides(scratch), "DATABASE_URL": f"sqlite:///{scratch}/x.db"},
        instance_path=f"{scratch}/instance",
    )


ROUTES = routes(_bare_app())
FRESH_ROUTES = [route for route in ROUTES if route[2] != "GET"]
FIELDS = field_names()

EXTREMES = [
    "",
    " ",
    "0",
    "-1",
    "1",
    "2",
    "9" * 40,
    str(2**31),
    str(2**63),
    str(-(2**63) - 1),
    "1e309",
    "-1e309",
    "NaN",
    "inf",
    "0x10",
    "1.5",
    "9999-12-31",
    "0001-01-01",
    "1970-01-01",
    "2999-12-31",
    "3000-01-01",
    "2024-02-30",
    "-1-01-01",
    "99999-01-01",
    "2024-01-01T25:61",
    "admin",
    "manager",
    "user",
    "identity",
    "directory",
    "on",
    "y",
    "true",
    "false",
    "all",
    "en",
    "fr",
    "xx",
    "fz.admin",
    "fz.user",
    "fz.manager",
    "fz.other@example.test",
    "Alpha",
    "Beta",
    "recovery",
    "disable",
    "enable",
    "unlock",
    "end_sessions",
    "//evil.example/",
    "https://evil.example/",
    "/\\evil.example",
    "javascript:alert(1)",
    "\x00",
    "%00",
    "a\r\nSet-Cookie: x=1",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "../../etc/passwd",
    "\u202e",
    "\ud7ff",
    "\U0001f600" * 30,
    "x" * 1100,
    "end-of-day",
]

text = st.text(max_size=80)
numbers = st.one_of(
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
dates = st.one_of(st.dates().map(str), st.datetimes().map(lambda d: d.isoformat()))
value_text = st.one_of(text, numbers, dates, st.sampled_from(EXTREMES))
values = st.one_of(
    value_text.map(lambda v: v.encode("utf-8", "surrogatepass")), st.binary(max_size=60)
)
names = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12))
pairs = st.lists(st.tuples(names, values), max_size=8)
# Request headers the app reads (htmx, Fetch Metadata, language), with any latin-1 value.
HEADERS = [
    "HX-Current-URL",
    "HX-Target",
    "HX-Trigger",
    "HX-History-Restore-Request",
    "HX-Request-Type",
    "Sec-Fetch-Site",
    "Origin",
    "Referer",
    "Accept-Language",
]
header_value = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60),
    st.sampled_from(
        [
            "true",
            "same-origin",
            "cross-site",
            "none",
            "http://localhost/admin/users",
            "http://evil.example/",
            "fr-FR,fr;q=0.9",
            "*;q=NaN",
            "partial",
            "full",
        ]
    ),
)
headers_drawn = st.dictionaries(st.sampled_from(HEADERS), header_value, max_size=3)


def segment(converter: str, world_ids: list[int]):
    if converter == "int":
        return st.one_of(st.sampled_from(world_ids), st.integers(0, 2**70)).map(str)
    known = st.sampled_from(
        ["recovery", "disable", "enable", "unlock", "end_sessions", "delete", "x", "0"]
    )
    return st.one_of(known, st.text(min_size=1, max_size=40)).map(lambda v: quote(v, safe=""))


def _converters(rule: str) -> list[tuple[str, str]]:
    return re.findall(r"<(?:(\w+):)?(\w+)>", rule)


def _encode(items) -> bytes:
    return b"&".join(
        quote_from_bytes(k.encode("utf-8", "surrogatepass")).encode()
        + b"="
        + quote_from_bytes(v).encode()
        for k, v in items
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def fresh_world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("fuzz-fresh"), fresh=True)


def _changed(before: dict, after: dict) -> dict:
    return {
        (uid, col): (row.get(col), after.get(uid, {}).get(col))
        for uid, row in before.items()
        for col in row
        if after.get(uid, {}).get(col) != row.get(col)
    }


def _sent(items, form) -> str:
    """Everything sent, folded, to check that a changed name came from the input."""
    parts = [v.decode("utf-8", "replace") for _, v in items]
    parts += [str(v) for _, v in form]
    return unicodedata.normalize("NFKC", "\n".join(parts)).casefold()


def check_accounts(world, before, after, status, sent) -> None:
    changes = _changed(before, after)
    created = set(after) - set(before)
    assert not set(before) - set(after), "an account disappeared"
    never = {k: v for k, v in changes.items() if k[1] in NEVER_WITHOUT_PASSWORD}
    assert not never, f"changed without the password: {never}"
    if status >= 400:
        assert not changes and not created, f"a refused request ({status}) changed {changes}"
    for (uid, col), (_, new) in changes.items():
        assert col in PROFILE
        value = world.team_name(new) if col == "team" else new
        if value:
            folded = unicodedata.normalize("NFKC", str(value)).casefold().strip()
            assert folded in sent, f"{col} of {uid} became {value!r}, which was not sent"


def check_refusal_changes_nothing(before, after, status) -> None:
    """The fresh-session pass: a privileged action may be valid input there, a refusal not."""
    changes = _changed(before, after)
    assert not set(before) - set(after), "an account disappeared"
    if status >= 400:
        assert not changes and set(after) == set(before), (
            f"a refused request ({status}) changed {changes}"
        )


def fuzz_once(world, data, endpoint: str, rule: str, method: str, roles) -> None:
    """Draw one request for this route, send it, check the properties."""
    ids = sorted(world.ids.values()) + world.team_ids
    role = data.draw(st.sampled_from(roles), label="role")
    path = rule
    for converter, name in _converters(rule):
        value = data.draw(segment(converter or "string", ids), label=name)
        path = path.replace(f"<{converter + ':' if converter else ''}{name}>", value)
    query = data.draw(st.lists(st.tuples(names, values), max_size=4), label="query")
    items = data.draw(pairs, label="form")
    csrf = data.draw(st.sampled_from(["form", "form", "form", "header", "none"]), label="csrf")
    headers = data.draw(headers_drawn, label="headers")
    if data.draw(st.booleans(), label="htmx"):
        headers["HX-Request"] = "true"
    if csrf == "header":
        headers["X-CSRFToken"] = world.tokens[role]
    if csrf == "form":
        items = [("csrf_token", world.tokens[role].encode()), *items]
    url = path + ("?" + _encode(query).decode() if query else "")
    client = world.clients[role]
    before = world.last or world.snapshot()
    form = []
    if method == "GET":
        response = client.get(url, headers=headers)
    elif data.draw(st.booleans(), label="multipart"):
        form = [(k, v.decode("utf-8", "replace")) for k, v in items]
        upload = (
            io.BytesIO(data.draw(st.binary(max_size=400), label="file")),
            data.draw(st.text(min_size=1, max_size=20), label="filename"),
        )
        payload = MultiDict([*form, ("file", upload)])
        response = client.open(
            url, method=method, data=payload, headers=headers, content_type="multipart/form-data"
        )
    else:
        response = client.open(
            url,
            method=method,
            data=_encode(items),
            headers=headers,
            content_type="application/x-www-form-urlencoded",
        )
    status, body = response.status_code, response.get_data()  # a streamed body runs now
    response.close()
    assert status < 500, f"{method} {url} as {role}: {status}\n{body[:2000]}"
    world.last = None  # taken again if the check fails half-way
    after = world.snapshot()
    if world.fresh:
        check_refusal_changes_nothing(before, after, status)
        world.last = world.restore_actors(after)
    else:
        check_accounts(world, before, after, status, _sent([*items, *query], form))
        world.last = after
        if endpoint == "auth.logout" and role != "anonymous":
            world.sign_in(role)  # signs in again, then ages the new session


def _examples(test, examples: int = EXAMPLES):
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )(given(data=st.data())(test))


@pytest.mark.parametrize("endpoint,rule,method", ROUTES, ids=[f"{m}-{e}" for e, _, m in ROUTES])
def test_fuzz_route(world, endpoint, rule, method):
    """Every role, sessions past the step-up window: the strict properties."""
    _examples(lambda data: fuzz_once(world, data, endpoint, rule, method, ROLES))()
    for role in ("user", "manager", "admin"):  # garbage never ends a session (and the
        page = world.clients[role].get("/password/change")  # fuzzing was not anonymous)
        assert page.status_code == 200, f"{role} was signed out by garbage sent to {rule}"


@pytest.mark.parametrize(
    "endpoint,rule,method", FRESH_ROUTES, ids=[f"{m}-{e}" for e, _, m in FRESH_ROUTES]
)
def test_fuzz_route_fresh_session(fresh_world, endpoint, rule, method):
    """Manager and administrator who just entered their password: garbage reaches the forms
    behind the step-up (settings, set password, bulk actions, role changes…). Never a 5xx;
    a refused request changes no account. (GET needs no step-up: the pass above has it.)"""
    _examples(
        lambda data: fuzz_once(fresh_world, data, endpoint, rule, method, ("manager", "admin")),
        FRESH_EXAMPLES,
    )()


def test_every_route_is_fuzzed_or_excluded_with_a_reason():
    """The fuzz list comes from the url_map: a new route is fuzzed unless excluded here."""
    endpoints = {rule.endpoint for rule in _bare_app().url_map.iter_rules()}
    fuzzed = {endpoint for endpoint, _, _ in ROUTES}
    assert endpoints == fuzzed | set(EXCLUDED)
    assert all(reason for reason in EXCLUDED.values())
    for _, rule, _ in ROUTES:  # a converter without a strategy would be fuzzed as text
        assert all(conv in ("", "int", "string") for conv, _ in _converters(rule)), rule
