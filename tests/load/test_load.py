"""Item 4: many concurrent clients against a real ``passgate serve``.

Each client is a thread with its own cookie jar and its own source address (127.0.0.x;
PASSGATE_TRUSTED_PROXIES=0, so the server sees that address). Pass: no 5xx, no
"database is locked" (nor any traceback) in the server's output, every correct sign-in
succeeds, and the audit log holds exactly the events the clients caused, per action.

PASSGATE_LOAD_CLIENTS and PASSGATE_LOAD_SECONDS make the mixed run longer (CI: short).
"""

from __future__ import annotations

import os
import random
import re
import secrets
import threading
import time
from collections import Counter

import pytest

from portal import passwords
from portal.models import AuditEvent, OutboxMail, RecoveryRequest, User

from ..helpers import PASSWORD
from .client import HX, Browser, Stats, source_address
from .helpers import audit_counts, connected, create_users, last_audit_id
from .server import assert_clean_log, start_server

pytestmark = pytest.mark.load

CLIENTS = int(os.environ.get("PASSGATE_LOAD_CLIENTS", "20"))
SECONDS = float(os.environ.get("PASSGATE_LOAD_SECONDS", "10"))
ADMINS = 3
TARGETS_PER_ADMIN = 5
MAIL_WAIT = 20  # seconds a client waits for its recovery mail


def new_password() -> str:
    return f"load {secrets.token_hex(8)} harbour"


class Run:
    """What the clients saw and caused (thread-safe)."""

    def __init__(self, port: int, sink, deadline: float):
        self.port = port
        self.sink = sink
        self.deadline = deadline
        self.stats = Stats()
        self.lock = threading.Lock()
        self.expected: Counter = Counter()  # audit events, per action[:outcome]
        self.mails: Counter = Counter()  # outbox rows, per kind
        self.problems: list[str] = []
        self.signins_ok = 0

    def expect(self, action: str, n: int = 1, mail: str | None = None) -> None:
        with self.lock:
            self.expected[action] += n
            if mail:
                self.mails[mail] += n

    def problem(self, who: str, what: str, response=None) -> None:
        detail = f" -> {response.status} {response.text[:200]!r}" if response is not None else ""
        with self.lock:
            self.problems.append(f"{who}: {what}{detail}")

    def running(self) -> bool:
        return time.monotonic() < self.deadline


def check(run: Run, who: str, what: str, response, status: int, location: str | None = None):
    ok = response.status == status and (location is None or response.location == location)
    if not ok:
        run.problem(who, what, response)
    return ok


# --- the clients ------------------------------------------------------------------------------


def user_client(run: Run, index: int, name: str) -> None:
    """An end user: correct and wrong sign-ins, own password changes, recovery by mail."""
    rng = random.Random(index)
    email = f"{name}@example.test"
    browser = Browser(run.port, source_address(index), stats=run.stats)
    password = PASSWORD
    used_links: set[str] = set()
    # Every kind of step once first (each client signs in at least once), then at random.
    steps, weights = ["signin", "wrong", "forgot", "forgot_unknown"], [5, 3, 2, 1]
    plan = ["signin", *rng.sample(steps[1:], len(steps) - 1)]
    while run.running():
        step = plan.pop(0) if plan else rng.choices(steps, weights)[0]
        if step == "signin":
            r = browser.sign_in(rng.choice([name, email, name.upper()]), password)
            if not check(run, name, "correct sign-in", r, 303, "/"):
                return
            with run.lock:
                run.signins_ok += 1
            run.expect("login.success")
            home = browser.get("/")
            if not check(run, name, "home after sign-in", home, 200):
                return
            if rng.random() < 0.5:
                fresh = new_password()
                page = browser.get("/password/change")
                r = browser.post(
                    "/password/change",
                    {
                        "current_password": password,
                        "password": fresh,
                        "confirm": fresh,
                        "csrf_token": page.csrf(),
                    },
                )
                if not check(run, name, "own password change", r, 303, "/"):
                    return
                password = fresh
                run.expect("password.change", mail="password_changed")
                home = browser.get("/")
            r = browser.post("/logout", {"csrf_token": home.csrf()})
            if not check(run, name, "sign-out", r, 303):
                return
            run.expect("logout")
        elif step == "wrong":
            who = rng.choice([name, f"ghost-{name}"])
            r = browser.sign_in(who, password + "x")
            if not check(run, name, "wrong password", r, 401):
                return
            run.expect("login.failure:failure")
        elif step == "forgot_unknown":
            r = browser.form_post(
                "/password/forgot", "/password/forgot", {"identifier": f"nobody-{name}"}
            )
            if not check(run, name, "forgot (unknown)", r, 303, "/password/forgot/sent"):
                return
            run.expect("recovery.request:no_match")
        else:
            r = browser.form_post(
                "/password/forgot", "/password/forgot", {"identifier": rng.choice([name, email])}
            )
            if not check(run, name, "forgot", r, 303, "/password/forgot/sent"):
                return
            run.expect("recovery.request:sent", mail="reset")
            try:
                link = run.sink.wait_until(
                    lambda _m: next(
                        (p for p in run.sink.links_to(email) if p not in used_links), None
                    ),
                    MAIL_WAIT,
                    f"the recovery mail of {name}",
                )
            except AssertionError as exc:
                run.problem(name, str(exc))
                return
            used_links.add(link)
            r = browser.get(link)
            if not check(run, name, "mailed link", r, 302, "/password/reset"):
                return
            page = browser.get("/password/reset")
            if not check(run, name, "reset page", page, 200):
                return
            fresh = new_password()
            r = browser.post(
                "/password/reset", {"password": fresh, "confirm": fresh, "csrf_token": page.csrf()}
            )
            if not check(run, name, "complete recovery", r, 303, "/login"):
                return
            password = fresh
            run.expect("password.reset", mail="password_changed")


def admin_client(run: Run, index: int, name: str, targets: dict[str, int]) -> None:
    """An administrator: searches, Reset & Unlock, bulk actions on its own targets."""
    rng = random.Random(1000 + index)
    browser = Browser(run.port, source_address(index), stats=run.stats)
    r = browser.sign_in(name, PASSWORD)
    if not check(run, name, "admin sign-in", r, 303, "/"):
        return
    with run.lock:
        run.signins_ok += 1
    run.expect("login.success")
    csrf = browser.get("/admin/users").csrf()
    ids = list(targets.values())
    prefix = os.path.commonprefix(list(targets))

    def bulk(action: str, chosen: list[int], **extra):
        return browser.post(
            f"/admin/users/bulk/{action}",
            {"ids": [str(i) for i in chosen], "csrf_token": csrf, **extra},
            headers=HX,
        )

    steps = ["search", "reset", "unlock", "disable", "recovery", "bulk_reset"]
    plan = rng.sample(steps, len(steps))  # every kind once first, then at random
    while run.running():
        step = plan.pop() if plan else rng.choice(steps)
        if step == "search":
            r = browser.get(f"/admin/users?q={prefix}", headers=HX)
            if not check(run, name, "search", r, 200):
                return
            if "<html" in r.text or not all(t in r.text for t in targets):
                run.problem(name, "search fragment lacks the matching users", r)
                return
        elif step == "reset":
            target = rng.choice(ids)
            r = browser.post(
                f"/admin/users/{target}/reset",
                {"reason": "load test", "csrf_token": csrf},
                headers=HX,
            )
            if not check(run, name, "Reset & Unlock", r, 200):
                return
            if "Password has been reset" not in r.text:
                run.problem(name, "Reset & Unlock result", r)
                return
            run.expect("admin.reset", mail="password_changed")
        elif step == "unlock":
            chosen = rng.sample(ids, rng.randint(1, len(ids)))
            if not check(run, name, "bulk unlock", bulk("unlock", chosen), 200):
                return
            run.expect("admin.unlock", len(chosen))
            run.expect("admin.bulk")
        elif step == "disable":
            chosen = rng.sample(ids, 2)
            if not check(
                run,
                name,
                "bulk disable",
                bulk("disable", chosen, confirm_count=str(len(chosen))),
                200,
            ):
                return
            run.expect("admin.disable", len(chosen))
            run.expect("admin.bulk")
            if not check(run, name, "bulk enable", bulk("enable", chosen), 200):
                return
            run.expect("admin.enable", len(chosen))
            run.expect("admin.bulk")
        elif step == "recovery":
            chosen = rng.sample(ids, rng.randint(1, len(ids)))
            r = browser.post(
                "/admin/users/bulk/recovery/confirm",
                {"ids": [str(i) for i in chosen], "csrf_token": csrf},
                headers=HX,
            )
            if not check(run, name, "bulk recovery preview", r, 200):
                return
            eligible = int(re.search(r'data-count="eligible">(\d+)<', r.text).group(1))
            if eligible:
                r = bulk("recovery", chosen, confirm_count=str(eligible))
                if not check(run, name, "bulk recovery", r, 200):
                    return
                run.expect("admin.bulk_recovery", eligible, mail="reset")
                run.expect("admin.bulk")
        else:
            chosen = rng.sample(ids, 2)
            r = bulk("reset", chosen, confirm_count=str(len(chosen)))
            if not check(run, name, "bulk reset", r, 200):
                return
            run.expect("admin.reset", len(chosen), mail="password_changed")
            run.expect("admin.bulk")


def guarded(run: Run, who: str, fn, *args):
    def main():
        try:
            fn(run, *args)
        except Exception as exc:  # noqa: BLE001 — reported by the test, with the client name
            run.problem(who, f"{type(exc).__name__}: {exc}")

    return threading.Thread(target=main, name=f"client-{who}", daemon=True)


def wait_for_quiet_queue(app, seconds: float = 30) -> None:
    """Every recovery request resolved and every mail sent (or the test fails)."""
    deadline = time.monotonic() + seconds
    while True:
        with connected(app):
            pending = RecoveryRequest.select().where(RecoveryRequest.processed_at.is_null()).count()
            unsent = OutboxMail.select().where(OutboxMail.status != "sent").count()
        if not pending and not unsent:
            return
        assert time.monotonic() < deadline, f"{pending} request(s), {unsent} mail(s) pending"
        time.sleep(0.2)


# --- the tests --------------------------------------------------------------------------------


def test_mixed_load_many_clients(app, sink, server_env):
    users = [f"u{i:02d}" for i in range(CLIENTS - ADMINS)]
    create_users(app, users)
    admins = [f"admin{a}" for a in range(ADMINS)]
    create_users(app, admins, role="admin")
    targets = {
        a: create_users(app, [f"t{a}x{j}" for j in range(TARGETS_PER_ADMIN)]) for a in range(ADMINS)
    }
    audit_from = last_audit_id(app)
    with connected(app):
        mail_from = OutboxMail.select().count()
    server = start_server(
        {
            **server_env,
            "PASSGATE_LOCKOUT_FREE_FAILURES": "100000",
            "PASSGATE_LOCKOUT_HARD_LIMIT": "1000000",
        }
    )

    run = Run(server.port, sink, time.monotonic() + SECONDS)
    threads = [guarded(run, name, user_client, i, name) for i, name in enumerate(users)]
    threads += [
        guarded(run, name, admin_client, len(users) + a, name, targets[a])
        for a, name in enumerate(admins)
    ]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + MAIL_WAIT + 30)
    assert not any(t.is_alive() for t in threads), "a client did not finish"
    elapsed = time.monotonic() - started
    wait_for_quiet_queue(app)
    print(
        f"\n{len(threads)} clients, {elapsed:.1f}s, {sum(run.stats.statuses.values())} "
        f"requests {dict(run.stats.statuses)}; caused {dict(run.expected)}; "
        f"mails {dict(run.mails)}"
    )
    server.stop()

    assert run.stats.server_errors == [], run.stats.server_errors[:5]
    assert run.stats.transport_errors == [], run.stats.transport_errors[:5]
    assert run.problems == [], run.problems[:10]
    assert_clean_log(server.log())
    # Every kind of action happened (the run was a real mix).
    for action in (
        "login.success",
        "login.failure:failure",
        "logout",
        "password.change",
        "recovery.request:sent",
        "recovery.request:no_match",
        "password.reset",
        "admin.reset",
        "admin.unlock",
        "admin.disable",
        "admin.enable",
        "admin.bulk_recovery",
        "admin.bulk",
    ):
        assert run.expected[action] > 0, f"no {action} in {elapsed:.0f}s: {run.expected}"
    assert run.expected["login.success"] == run.signins_ok

    # The audit log holds exactly what the clients caused: one mail.sent per mail too.
    expected = run.expected + Counter({"mail.sent": sum(run.mails.values())})
    actual = audit_counts(app, audit_from)
    assert dict(actual) == dict(expected), {
        k: (actual[k], expected[k]) for k in set(actual) | set(expected) if actual[k] != expected[k]
    }
    with connected(app):
        outbox = list(
            OutboxMail.select(OutboxMail.kind, OutboxMail.status)
            .order_by(OutboxMail.id)
            .offset(mail_from)
            .tuples()
        )
    assert Counter(kind for kind, _status in outbox) == run.mails
    assert {status for _kind, status in outbox} == {"sent"}
    # Each mail reached the SMTP server exactly once.
    assert len(sink.messages) == len(outbox)
    # The server saw each client's own address (PASSGATE_TRUSTED_PROXIES=0, no proxy).
    addresses = {name: source_address(i) for i, name in enumerate(users + admins)}
    with connected(app):
        seen = set(
            AuditEvent.select(AuditEvent.target_name, AuditEvent.ip)
            .where((AuditEvent.id > audit_from) & (AuditEvent.action == "login.success"))
            .tuples()
        )
    assert seen == {(name, addresses[name]) for name in {n for n, _ip in seen}}
    assert {n for n, _ip in seen} == set(addresses)  # everyone signed in at least once


BURST_ROUNDS = 8  # a real bcrypt cost: each verification takes tens of milliseconds


def test_simultaneous_sign_ins_8_16_50(app, server_env):
    """8, then 16, then 50 people press "Sign in" at the same moment: all succeed, no 5xx.
    Then one person signs in on 16 devices at once just after the operator raised the
    bcrypt cost (every attempt verifies the old hash; one rehash wins): all succeed too."""
    names = [f"w{i:02d}" for i in range(50)]
    ids = create_users(app, names)
    same = create_users(app, ["everywhere"])["everywhere"]  # hashed at the old cost (4)
    with connected(app):
        rounds, app.config["BCRYPT_ROUNDS"] = app.config["BCRYPT_ROUNDS"], BURST_ROUNDS
        slow_hash = passwords.hash_password(PASSWORD)  # the same hash for every account
        app.config["BCRYPT_ROUNDS"] = rounds
        User.update(password_hash=slow_hash).where(User.id.in_(list(ids.values()))).execute()
    audit_from = last_audit_id(app)
    server = start_server({**server_env, "PASSGATE_BCRYPT_ROUNDS": str(BURST_ROUNDS)})
    stats = Stats()
    total = 0
    for wave in (names[:8], names[:16], names, ["everywhere"] * 16):
        size = len(wave)
        barrier = threading.Barrier(size)
        outcomes: dict[int, tuple] = {}

        def sign_in(index: int, name: str) -> None:
            browser = Browser(server.port, source_address(index), stats=stats)
            page = browser.get("/login")
            barrier.wait(30)
            r = browser.post(
                "/login", {"identifier": name, "password": PASSWORD, "csrf_token": page.csrf()}
            )
            home = browser.get("/") if r.status == 303 else None
            outcomes[index] = (name, r.status, r.location, home.status if home else None)

        threads = [
            threading.Thread(target=sign_in, args=(i, n), daemon=True) for i, n in enumerate(wave)
        ]
        wave_started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(outcomes) == size, f"{size}: only {len(outcomes)} clients finished"
        bad = [o for o in outcomes.values() if o[1:] != (303, "/", 200)]
        assert bad == [], f"{size} simultaneous sign-ins: {bad}"
        total += size
        print(
            f"\n{size} simultaneous sign-ins of {len(set(wave))} account(s) (bcrypt cost "
            f"{BURST_ROUNDS}): all in {time.monotonic() - wave_started:.2f}s"
        )
    server.stop()
    assert not any(code >= 500 for code in stats.statuses), stats.server_errors[:3]
    assert_clean_log(server.log())
    assert audit_counts(app, audit_from) == Counter({"login.success": total})
    with connected(app):
        rehashed = User.get_by_id(same).password_hash
        assert passwords.verify_password(PASSWORD, rehashed)
    assert rehashed.startswith(f"$2b${BURST_ROUNDS:02d}$")


def at_once(size: int, prepare, act) -> None:
    """``size`` threads: ``prepare(index)`` each, then all ``act(index, prepared)`` at the
    same moment (a barrier)."""
    barrier = threading.Barrier(size)

    def main(index: int) -> None:
        prepared = prepare(index)
        barrier.wait(60)
        act(index, prepared)

    threads = [threading.Thread(target=main, args=(i,)) for i in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)


def test_simultaneous_wrong_passwords_all_count(app, server_env):
    """16 wrong passwords at the same moment, on an account, on an unknown identifier and
    as the current password of 16 sessions of one account: the per-account throttle
    counts every one (a lost update would let an attacker guess more often by sending
    guesses in parallel)."""
    from portal.models import LoginThrottle
    from portal.throttle import identifier_state

    ids = create_users(app, ["victim", "insider"])
    size = 16
    server = start_server(
        {
            **server_env,
            "PASSGATE_BCRYPT_ROUNDS": str(BURST_ROUNDS),
            "PASSGATE_LOCKOUT_FREE_FAILURES": "1000",
            "PASSGATE_LOCKOUT_HARD_LIMIT": "100000",
        }
    )
    stats = Stats()

    def browser(index: int) -> Browser:
        return Browser(server.port, source_address(index), stats=stats)

    for identifier in ("victim", "nobody-here"):

        def sign_in_page(index: int):
            b = browser(index)
            return b, b.get("/login").csrf()

        def wrong_sign_in(index: int, prepared) -> None:
            b, csrf = prepared
            r = b.post(
                "/login",
                {"identifier": identifier, "password": f"guess {index}", "csrf_token": csrf},
            )
            assert r.status == 401

        at_once(size, sign_in_page, wrong_sign_in)

    def change_page(index: int):
        b = browser(index)
        assert b.sign_in("insider", PASSWORD).location == "/"
        return b, b.get("/password/change").csrf()

    def wrong_current(index: int, prepared) -> None:
        b, csrf = prepared
        fresh = new_password()
        r = b.post(
            "/password/change",
            {
                "current_password": f"guess {index}",
                "password": fresh,
                "confirm": fresh,
                "csrf_token": csrf,
            },
        )
        assert r.status == 422 and "Your current password is not correct" in r.text

    at_once(size, change_page, wrong_current)
    server.stop()
    assert not any(code >= 500 for code in stats.statuses), stats.server_errors[:3]
    assert_clean_log(server.log())
    with connected(app):
        victim = User.get_by_id(ids["victim"])
        insider = User.get_by_id(ids["insider"])
        ghost = LoginThrottle.get_or_none(LoginThrottle.key == identifier_state("nobody-here").key)
    assert (victim.failed_count, ghost.failed_count if ghost else 0, insider.failed_count) == (
        size,
        size,
        size,
    )
