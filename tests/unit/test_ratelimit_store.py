"""The SQLite storage behind per-IP limits when there is no Redis (shared by processes)."""

from __future__ import annotations

import multiprocessing

from portal.ratelimit import _SQLiteWindows, parse_many
from portal.ratelimit_store import SCHEME, SQLiteStorage


def parse(spec: str):
    (item,) = parse_many(spec)
    return item


def _limiter(path) -> _SQLiteWindows:
    return _SQLiteWindows(f"{SCHEME}://{path}")


def test_moving_window_counts_and_reports_the_window(tmp_path):
    limiter = _limiter(tmp_path / "rl.db")
    item = parse("3 per minute")
    assert [limiter.hit(item, "login", "1.2.3.4") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(item, "login", "5.6.7.8")  # another address has its own count
    assert limiter.reset_at(item, "login", "1.2.3.4") > 0
    limiter.storage.clear(item.key_for("login", "1.2.3.4"))
    assert limiter.hit(item, "login", "1.2.3.4")


def _hit_many(path, n, queue):
    limiter = _limiter(path)
    item = parse("50 per minute")
    queue.put(sum(limiter.hit(item, "forgot", "9.9.9.9") for _ in range(n)))


def test_processes_share_one_count(tmp_path):
    path = tmp_path / "rl.db"
    queue = multiprocessing.get_context("fork").Queue()
    procs = [
        multiprocessing.get_context("fork").Process(target=_hit_many, args=(path, 40, queue))
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert sum(queue.get(timeout=5) for _ in procs) == 50  # 120 tries, 50 allowed in all


def test_fixed_window_counters(tmp_path):
    storage = SQLiteStorage(f"{SCHEME}://{tmp_path / 'rl.db'}")
    assert storage.incr("k", 60) == 1 and storage.incr("k", 60, amount=2) == 3
    assert storage.get("k") == 3 and storage.get_expiry("k") > 0
    assert storage.check()
    storage.clear("k")
    assert storage.get("k") == 0
