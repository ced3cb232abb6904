"""Checklist section C: recovery tokens (mailed single-use links), against a live server."""

from __future__ import annotations

import base64
import os
import re
import threading
import time

import pytest
from peewee import CharField, TextField

from portal import config, create_app, tokens
from portal.models import MODELS, AuditEvent, RecoveryRequest, ResetToken, User

from .client import NEW_PASSWORD, OTHER_PASSWORD, PASSWORD
from .flows import (
    admin_reset,
    admin_set_password,
    form_values,
    reset_with_link,
    seed_link,
    signs_in,
)
from .live import wait_until

INVALID = "recovery"  # the invalid-link page is a 404 with a way to ask again


def token_of(link: str) -> str:
    return link.rsplit("/", 1)[1]


def is_invalid(response) -> bool:
    return response.status == 404 and "/password/forgot" in response.text


def test_C1_tokens_are_long_random_and_distinct(live):
    accounts = [live.account("cone") for _ in range(7)]
    for account in accounts:
        for _ in range(3):  # the per-account limit (C12) is 3 mails per 15 minutes
            live.client().form("/password/forgot", {"identifier": account.username})
    found = [token_of(link) for a in accounts for link in live.links(a.email, 3)]
    assert len(found) == 21 and len(set(found)) == 21
    assert os.path.commonprefix(found) == ""
    for token in found:
        assert re.fullmatch(r"[A-Za-z0-9_\-]{43,}", token)
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) >= 32
        assert not re.fullmatch(rb"[\x20-\x7e]*", raw)  # not an encoded id or timestamp


def test_C2_tokens_are_stored_hashed(live):
    account = live.account("ctwo")
    link = live.request_link(account)
    token = token_of(link)
    with live.db():
        assert ResetToken.get_or_none(ResetToken.token_hash == tokens.digest(token))
        for model in MODELS:  # every text column of every table
            columns = [
                f for f in model._meta.sorted_fields if isinstance(f, (CharField, TextField))
            ]
            for column in columns:
                assert not model.select().where(column.contains(token)).exists(), (
                    model.__name__,
                    column.name,
                )


def test_C3_single_use(live):
    account = live.account("cthree")
    link = live.request_link(account)
    assert reset_with_link(live.client(), link, NEW_PASSWORD).status == 303
    again = live.client()
    assert again.get(link).status == 302
    assert is_invalid(again.get("/password/reset"))
    response = again.post(
        "/password/reset",
        {"password": OTHER_PASSWORD, "confirm": OTHER_PASSWORD, "csrf_token": again.token()},
    )
    assert is_invalid(response)
    assert signs_in(live, account.username, NEW_PASSWORD)
    assert not signs_in(live, account.username, OTHER_PASSWORD)


def test_C4_single_use_under_concurrency(live):
    account = live.account("cfour")
    for round_ in range(20):
        link = seed_link(live, account)
        browsers = [live.client(), live.client()]
        tokens_ = []
        for browser in browsers:
            assert browser.get(link).status == 302
            tokens_.append(browser.get("/password/reset").csrf())
        chosen = [f"parallel winner {round_} alpha", f"parallel winner {round_} omega"]
        results = [None, None]
        start = threading.Barrier(2)

        def post(i):
            start.wait()
            results[i] = (
                browsers[i]
                .post(
                    "/password/reset",
                    {"password": chosen[i], "confirm": chosen[i], "csrf_token": tokens_[i]},
                )
                .status
            )

        threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [303, 404], results
        winner = chosen[results.index(303)]
        loser = chosen[results.index(404)]
        assert signs_in(live, account.username, winner)
        assert not signs_in(live, account.username, loser)


def test_C5_links_expire(live, tmp_path):
    assert config.DEFAULTS["RESET_LINK_TTL"] == "30"
    account = live.account("cfive")
    early = live.request_link(account)
    assert reset_with_link(live.client(), early, NEW_PASSWORD).status == 303  # within the TTL
    # Expired before the GET, and expired between the GET and the POST.
    late = live.request_link(account)
    live.age(ResetToken, ResetToken.token_hash == tokens.digest(token_of(late)), expires_at=31 * 60)
    browser = live.client()
    assert browser.get(late).status == 302
    assert is_invalid(browser.get("/password/reset"))
    middle = live.request_link(account)
    browser = live.client()
    browser.get(middle)
    token = browser.get("/password/reset").csrf()
    live.age(
        ResetToken, ResetToken.token_hash == tokens.digest(token_of(middle)), expires_at=31 * 60
    )
    response = browser.post(
        "/password/reset",
        {"password": OTHER_PASSWORD, "confirm": OTHER_PASSWORD, "csrf_token": token},
    )
    assert is_invalid(response)
    assert signs_in(live, account.username, NEW_PASSWORD)
    # More than 24 hours is refused at startup.
    with pytest.raises(SystemExit):
        create_app(
            {
                "SECRET_KEY": "x",
                "RESET_LINK_TTL": "1441",
                "DATABASE_URL": f"sqlite:///{tmp_path}/c5.db",
            },
            instance_path=str(tmp_path / "i"),
        )


def _link_dies(live, admin, how: str) -> None:
    account = live.account("csix")
    link = live.request_link(account)
    if how == "password":
        browser = live.client()
        browser.login(account.username)
        assert browser.change_password(PASSWORD, NEW_PASSWORD).status == 303
    elif how == "admin_reset":
        assert admin_reset(admin[1], account.id)[1]
    elif how == "admin_password":
        assert admin_set_password(admin[1], account.id, NEW_PASSWORD).status in (200, 303)
    elif how == "email":
        path = f"/admin/users/{account.id}/edit"
        values = form_values(admin[1].get(path).text, path)
        values["email"] = f"new.{account.username}@example.test"
        assert admin[1].post(path, values).status in (200, 303)
    elif how == "disable":
        admin[1].form(f"/admin/users/{account.id}/disable", {}, page="/admin/users")
    elif how == "newer":
        live.request_link(account)
    browser = live.client()
    browser.get(link)
    assert is_invalid(browser.get("/password/reset")), how


@pytest.mark.parametrize(
    "how", ["password", "admin_reset", "admin_password", "email", "disable", "newer"]
)
def test_C6_links_die_when_the_account_changes(live, admin, how):
    _link_dies(live, admin, how)


def test_C7_bound_to_one_account_and_purpose(live):
    alice, bob = live.account("cseven"), live.account("csevenb")
    link = live.request_link(alice)
    browser = live.client()
    browser.login(bob.username)  # signed in as bob, alice's link still acts on alice only
    assert reset_with_link(browser, link, NEW_PASSWORD).status == 303
    assert signs_in(live, alice.username, NEW_PASSWORD)
    assert signs_in(live, bob.username, PASSWORD)
    # The token is worthless anywhere else (there is no other token endpoint; ids differ).
    token = token_of(link)
    for path in (f"/admin/users/bulk/jobs/{token}", f"/password/reset/{token}x"):
        assert live.client().get(path).status in (302, 404)


def test_C8_requesting_a_reset_changes_nothing(live):
    account = live.account("ceight")
    live.request_link(account)
    user = live.user(account.id)
    assert not user.must_change and not user.hard_locked and user.locked_until is None
    assert user.failed_count == 0
    assert signs_in(live, account.username, PASSWORD)


POISONED = [
    {"Host": "evil.example"},
    {"Host": "127.0.0.1:{port}:evil@evil.example"},
    {"X-Forwarded-Host": "evil.example"},
    {"Forwarded": "host=evil.example"},
    {"X-Forwarded-Proto": "http"},
    "absolute",
]


def test_C9_links_come_from_configuration(live):
    accounts = [live.account("cnine"), live.account("cnine")]
    expected = f"https://127.0.0.1:{live.main.port}/password/reset/"
    mailed = refused = 0
    for i, variant in enumerate(POISONED):
        account = accounts[i // 3]
        browser = live.client()
        token = browser.get("/password/forgot").csrf()
        data = {"identifier": account.username, "csrf_token": token}
        if variant == "absolute":
            response = browser.request(
                "POST", "/password/forgot", data, target="https://evil.example/password/forgot"
            )
        else:
            headers = {k: v.format(port=live.main.port) for k, v in variant.items()}
            response = browser.post("/password/forgot", data, headers=headers)
        if response.status == 400:
            refused += 1
        else:
            assert response.status == 303, (variant, response.status)
            mailed += 1
    assert refused >= 2  # a forged Host is refused outright (TRUSTED_HOSTS)
    for account in accounts:
        live.links(account.email, 0)
    wait_until(lambda: sum(len(live.mails_to(a.email)) for a in accounts) >= mailed)
    time.sleep(0.3)
    texts = [live.text(m) for a in accounts for m in live.mails_to(a.email)]
    assert len(texts) == mailed
    for text in texts:
        links = re.findall(r"https?://\S+/password/reset/\S+", text)
        assert links and all(link.startswith(expected) for link in links), links
        assert "evil" not in text


def test_C10_no_token_leak_through_referer_cache_or_history(live):
    account = live.account("cten")
    link = live.request_link(account)
    browser = live.client()
    landing = browser.get(link)
    assert landing.status == 302 and landing.location == "/password/reset"
    assert landing.headers["referrer-policy"] == "no-referrer"
    page = browser.get("/password/reset")
    for response in (landing, page):
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'self'" in response.headers["content-security-policy"]
    assert page.headers["referrer-policy"] in ("same-origin", "no-referrer")
    assert token_of(link) not in page.text
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text)  # nothing third-party


def test_C11_token_guessing_is_throttled(live):
    browser = live.client(strict=True)
    codes = [browser.get(f"/password/reset/{tokens.new_token()[0]}").status for _ in range(11)]
    assert codes[:10] == [302] * 10 and codes[10] == 429, codes


def test_C12_reset_requests_are_limited(live):
    account = live.account("ctwelve")
    answers = [
        live.client().form("/password/forgot", {"identifier": account.username}) for _ in range(4)
    ]
    assert {(a.status, a.location) for a in answers} == {(303, "/password/forgot/sent")}
    with live.db():
        wait_until(
            lambda: (
                not RecoveryRequest.select().where(RecoveryRequest.processed_at.is_null()).exists()
            )
        )
    time.sleep(0.5)
    assert len(live.mails_to(account.email)) == 3
    # Per IP (strict server, default 10 per 15 minutes), known and unknown names alike.
    browser = live.client(strict=True)
    token = browser.get("/password/forgot").csrf()
    codes = [
        browser.post("/password/forgot", {"identifier": name, "csrf_token": token}).status
        for name in [account.username, "ghostctwelve"] * 5 + ["ghostctwelve"]
    ]
    assert codes == [303] * 10 + [429], codes
    other = live.client(ip=browser.ip, strict=True)
    assert other.form("/password/forgot", {"identifier": account.username}).status == 429


def test_C13_new_password_twice_and_same_policy(live):
    account = live.account("cthirteen")
    link = live.request_link(account)
    browser = live.client()
    assert browser.get(link).status == 302
    mismatch = browser.form(
        "/password/reset", {"password": NEW_PASSWORD, "confirm": OTHER_PASSWORD}
    )
    common = browser.form(
        "/password/reset", {"password": "123456789012345", "confirm": "123456789012345"}
    )
    assert mismatch.status == 422 and common.status == 422
    assert 'name="confirm"' in browser.get("/password/reset").text  # still usable
    assert (
        browser.form("/password/reset", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status
        == 303
    )


def test_C14_no_automatic_sign_in_after_a_reset(live):
    account = live.account("cfourteen")
    browser = live.client()
    response = reset_with_link(browser, live.request_link(account), NEW_PASSWORD)
    assert response.status == 303 and response.location == "/login"
    home = browser.get("/")
    assert home.status == 302 and home.location.startswith("/login")


def test_C15_every_session_ends_after_a_reset(live):
    account = live.account("cfifteen")
    a = live.client()
    assert a.login(account.username).status == 303
    assert a.get("/").status == 200
    assert reset_with_link(live.client(), live.request_link(account), NEW_PASSWORD).status == 303
    after = a.get("/")
    assert after.status == 302 and after.location.startswith("/login")


NOTICE_HINT = re.compile(r"not you|wasn.t you|did not|didn.t", re.I)


@pytest.mark.parametrize("how", ["reset", "change", "admin_reset", "admin_password", "forced"])
def test_C16_a_notice_after_every_credential_change(live, admin, how):
    account = live.account("csixteen")
    secret = NEW_PASSWORD
    link = None
    if how == "reset":
        link = live.request_link(account)
        reset_with_link(live.client(), link, secret)
    elif how == "change":
        browser = live.client()
        browser.login(account.username)
        browser.change_password(PASSWORD, secret)
    elif how == "admin_reset":
        secret = admin_reset(admin[1], account.id)[1]
    elif how == "admin_password":
        admin_set_password(admin[1], account.id, secret)
    elif how == "forced":
        _page, temp = admin_reset(admin[1], account.id)
        browser = live.client()
        browser.login(account.username, temp)
        before = len(live.mails_to(account.email))
        assert browser.change_password(temp, secret).status == 303
        live.wait_mails(account.email, before + 1)
    sent = 1 if how == "reset" else 0  # the recovery link itself
    notices = live.wait_mails(account.email, sent + 1)[sent:]
    if how == "forced":
        notices = live.mails_to(account.email)[-1:]
    time.sleep(0.3)
    (notice,) = notices
    text = live.text(notice) + live.html(notice)
    assert secret not in text and (link is None or token_of(link) not in text)
    assert NOTICE_HINT.search(text), text[:500]
    assert len(live.mails_to(account.email)) == sent + 1 + (1 if how == "forced" else 0)


def test_C17_mail_goes_only_to_the_stored_address(live):
    account = live.account("cseventeen")
    stored = account.email
    variants = [
        stored.upper(),
        stored + " ",
        stored.replace("e", "\u0435", 1),
        stored + "\r\nBcc: x@evil.example",
    ]
    codes = [live.client().form("/password/forgot", {"identifier": v}).status for v in variants]
    assert codes == [303, 303, 303, 422]  # the CRLF is a validation error
    with live.db():
        wait_until(
            lambda: (
                not RecoveryRequest.select().where(RecoveryRequest.processed_at.is_null()).exists()
            )
        )
    live.wait_mails(stored, 2)
    time.sleep(0.3)
    everyone = {r for rcpts, msg in live.sink.messages for r in rcpts}
    assert "x@evil.example" not in everyone
    assert len(live.mails_to(stored)) == 2
    assert all(msg["Bcc"] is None for _r, msg in live.sink.messages)


def test_C18_tokens_never_reach_the_logs(live):
    account = live.account("ceighteen")
    link = live.request_link(account)
    reset_with_link(live.client(), link, NEW_PASSWORD)
    live.client().get(link)  # used, then replayed
    token = token_of(link)
    assert token not in live.logs()
    with live.db():
        assert not AuditEvent.select().where(AuditEvent.detail.contains(token)).exists()
        assert not User.select().where(User.username.contains(token[:20])).exists()
