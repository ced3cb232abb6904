"""Checklist section D: account enumeration, against a live server."""

from __future__ import annotations

import random
import re
import statistics
import time

from portal import tokens
from portal.models import ResetToken

from .client import NEW_PASSWORD, PASSWORD, normalize
from .flows import reset_with_link


def shape(response) -> tuple:
    cookies = tuple(sorted(re.sub(r"=[^;]*", "=V", c, count=1) for c in response.cookies))
    headers = {
        k: v
        for k, v in response.headers.items()
        if k not in ("date", "set-cookie", "content-length")
    }
    return (
        response.status,
        normalize(response.text),
        response.location,
        cookies,
        tuple(sorted(headers.items())),
    )


def test_D1_forgot_answers_alike_for_every_identifier(live):
    known = live.account("done")
    disabled = live.account("donedis", disabled=True)
    locked = live.account("donelock")
    live.update_user(locked.id, hard_locked=True, failed_count=50)
    identifiers = [
        known.username,
        known.email,
        "ghostdone",
        "ghostdone@example.test",
        disabled.username,
        locked.email,
        "not-an-email@@example",
    ]
    answers = {}
    for identifier in identifiers:
        browser = live.client()
        token = browser.get("/password/forgot").csrf()
        answers[identifier] = shape(
            browser.post("/password/forgot", {"identifier": identifier, "csrf_token": token})
        )
    assert len(set(answers.values())) == 1, answers
    assert answers[known.username][:3:2] == (303, "/password/forgot/sent")


def test_D2_forgot_timing_does_not_depend_on_the_account(live):
    """Section 0's timing method; the sink delays each of these mails by 1 s, so sending in
    the request would show as a 1 s gap."""
    known = [live.account("dtwo") for _ in range(30)]
    browser = live.client()
    token = browser.get("/password/forgot").csrf()
    slow = {a.email for a in known}
    live.sink.slow_recipients = slow
    rounds = []
    try:
        for i in range(35):  # 5 warm-up rounds, then 30 measured
            order = [("known", known[i % 30].username), ("ghost", f"ghostdtwo{i}")]
            random.shuffle(order)
            took = {}
            for name, identifier in order:
                started = time.perf_counter()
                response = browser.post(
                    "/password/forgot", {"identifier": identifier, "csrf_token": token}
                )
                took[name] = time.perf_counter() - started
                assert response.status == 303
            if i >= 5:
                rounds.append(took)
    finally:
        live.sink.slow_recipients = set()
    medians = [statistics.median(r[name] for r in rounds) for name in ("known", "ghost")]
    gap = statistics.median(r["known"] - r["ghost"] for r in rounds)  # paired, as in B2
    assert abs(gap) <= max(0.020, 0.1 * max(medians)), (gap, medians)


def test_D3_invalid_expired_and_used_links_look_alike(live):
    account = live.account("dthree")
    used = live.request_link(account)
    reset_with_link(live.client(), used, NEW_PASSWORD)
    expired = live.request_link(account)
    live.age(
        ResetToken,
        ResetToken.token_hash == tokens.digest(expired.rsplit("/", 1)[1]),
        expires_at=3600,
    )
    pages = []
    for link in (f"/password/reset/{tokens.new_token()[0]}", expired, used):
        browser = live.client()
        assert browser.get(link).status == 302
        pages.append(browser.get("/password/reset"))
    assert len({(p.status, normalize(p.text)) for p in pages}) == 1
    assert pages[0].status == 404
    for page in pages:
        assert account.username not in page.text and account.email not in page.text


def test_D4_sign_in_reveals_nothing(live):
    """Message (B1), timing (B2), throttle (B4) and over-long input (B8) have their own
    tests; here the message and the long input, side by side for a known and an unknown
    name."""
    alice = live.account("dfour")
    for password in ("wrong password entirely d4", "x" * 80, "\u00e9" * 50):
        known = live.client().login(alice.username, password)
        ghost = live.client().login("ghostdfour", password)
        assert known.status == ghost.status == 401
        assert normalize(known.text).replace(alice.username, "N") == normalize(ghost.text).replace(
            "ghostdfour", "N"
        )
    assert live.client().login(alice.username, PASSWORD).status == 303


def test_D5_no_other_anonymous_oracle(live):
    alice = live.account("dfive")
    answers = []
    for name in (alice.username, "ghostdfive"):
        browser = live.client()
        plain = browser.get(f"/admin/users?q={name}")
        fragment = browser.get(f"/admin/users?q={name}", headers={"HX-Request": "true"})
        # The live policy check, anonymous: it must not judge against alice's names.
        check = browser.post(
            "/password/check",
            {
                "password": f"{alice.username} lantern 77",
                "for_user": alice.id,
                "csrf_token": browser.token(),
            },
        )
        assert "bad" not in re.findall(r'<li class="(\w+)" data-rule="not_personal"', check.text)
        assert plain.status == 302 and plain.location.startswith("/login")
        assert fragment.status == 401 and fragment.headers.get("hx-redirect")
        answers.append(
            (
                plain.status,
                plain.location.replace(name, "N"),
                fragment.status,
                check.status,
                normalize(check.text),
            )
        )
    assert answers[0] == answers[1]
