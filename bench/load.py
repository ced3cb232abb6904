"""N concurrent clients for T seconds against a real ``passgate serve``: throughput,
latency per kind of request, errors by status, and the memory of every server process.

    .venv/bin/python bench/load.py [BASE_URL] [--clients 8] [--seconds 20]
        [--mix page=4,signin=2,wrong=2,forgot=2] [--users 1000] [--rounds 12]
        [--server-args "--workers 2 --threads 4"] [--single-address] [--seed 1]

Without BASE_URL it seeds a temporary SQLite instance (``--users`` accounts
``user000001``… with the password from ``_common.PASSWORD``, bcrypt cost ``--rounds``),
starts ``passgate serve --host 127.0.0.1 --port <free>`` plus ``--server-args`` on it, with
the per-IP limits raised and mail printed to a discarded console, and stops it at the end.
With BASE_URL (loopback only) it drives that server: accounts ``--user-pattern``
numbered 1..``--users`` must exist with ``--password``; the server processes are the
ones holding its listening socket, and their descendants.

Each client is a thread with its own keep-alive connection, its own cookie jar and, unless
``--single-address``, its own source address (127.0.0.2, 127.0.0.3, … all on loopback),
as separate people would be. It repeats flows picked at random with the ``--mix`` weights:

  page    GET /login
  signin  GET /login, POST /login with the right password (303), GET /, POST /logout
  wrong   GET /login, POST /login with a wrong password (401)
  forgot  GET /password/forgot, POST /password/forgot (303), known and unknown names

Right and wrong passwords use two disjoint halves of the accounts, round robin, so the
per-account throttle never turns a right password into a refusal. The run stops by itself
after ``--seconds`` (requests in flight finish); every request has a 60 s timeout.

Printed: requests/s, p50/p95/p99/max latency per request kind, statuses per kind and every
unexpected status or exception, the server's CPU time per request, and for each server
process RSS, PSS and USS from ``/proc/<pid>/smaps_rollup`` (idle before the run and after
it). PSS shares pages between processes fairly, so the PSS column adds up to what the
whole server costs the machine; RSS counts shared pages once per process.
It prints figures and asserts nothing.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import random
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from http.cookies import SimpleCookie

from _common import (
    PASSWORD,
    ROOT,
    SECRET_KEY,
    database_url,
    load_note,
    make_app,
    migrate,
    parser,
    pct,
    seed,
)

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FLOWS = ("page", "signin", "wrong", "forgot")
# What each request kind must answer; anything else is counted as an error.
EXPECTED = {
    "GET /login": {200},
    "POST /login (right)": {303},
    "GET / (signed in)": {200},
    "POST /logout": {303, 302},
    "POST /login (wrong)": {401},
    "GET /password/forgot": {200},
    "POST /password/forgot": {303},
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- one client ---------------------------------------------------------------------


class Client:
    """A browser: one keep-alive connection, a cookie jar, no automatic redirects."""

    def __init__(self, host: str, port: int, source: str | None, stats: "Stats"):
        self.host, self.port, self.source, self.stats = host, port, source, stats
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(
                self.host,
                self.port,
                timeout=60,
                source_address=(self.source, 0) if self.source else None,
            )
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(
        self, kind: str, method: str, path: str, form: dict | None = None
    ) -> tuple[int, str]:
        """Send one request; record its latency and status under ``kind``."""
        headers = {"Host": f"{self.host}:{self.port}", "Accept-Language": "en"}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://{self.host}:{self.port}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        try:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    conn.request(method, path, body=body, headers=headers)
                    response = conn.getresponse()
                    text = response.read().decode("utf-8", "replace")
                    break
                except (
                    http.client.RemoteDisconnected,
                    BrokenPipeError,
                    ConnectionResetError,
                ) as exc:
                    # A kept-alive connection the server closed meanwhile: reconnect once.
                    self.close()
                    if attempt == 2:
                        raise exc
                    started = time.perf_counter()
        except Exception as exc:  # noqa: BLE001 - counted and shown, the run goes on
            self.close()
            self.stats.record(kind, time.perf_counter() - started, type(exc).__name__)
            return 0, ""
        elapsed = time.perf_counter() - started
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or "1970" in (morsel["expires"] or ""):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        self.stats.record(kind, elapsed, response.status)
        return response.status, text

    def csrf(self, kind: str, path: str) -> str | None:
        status, text = self.request(kind, "GET", path)
        match = CSRF_RE.search(text) if status == 200 else None
        return match.group(1) if match else None


class Accounts:
    """Round robin over two disjoint halves: right passwords, wrong passwords."""

    def __init__(self, pattern: str, users: int):
        self.pattern = pattern
        half = max(1, users // 2)
        self.right = [pattern.format(n=n) for n in range(1, half + 1)]
        self.wrong = [pattern.format(n=n) for n in range(half + 1, users + 1)] or self.right
        self.lock = threading.Lock()
        self.i = self.j = self.k = 0

    def next_right(self) -> str:
        with self.lock:
            self.i += 1
            return self.right[self.i % len(self.right)]

    def next_wrong(self) -> str:
        with self.lock:
            self.j += 1
            return self.wrong[self.j % len(self.wrong)]

    def next_forgot(self) -> str:
        with self.lock:
            self.k += 1
            if self.k % 2:
                return self.right[self.k % len(self.right)]
            return f"nobody{self.k}@example.test"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter] = defaultdict(Counter)

    def record(self, kind: str, seconds: float, status) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            self.status[kind][status] += 1


def run_client(
    index: int,
    host: str,
    port: int,
    source: str | None,
    deadline: float,
    weights: dict[str, int],
    accounts: Accounts,
    password: str,
    stats: Stats,
    seed_value: int,
    max_flows: int,
) -> None:
    rng = random.Random(seed_value * 1000 + index)
    flows = [f for f in FLOWS if weights.get(f)]
    cum = [weights[f] for f in flows]
    client = Client(host, port, source, stats)
    try:
        for _ in range(max_flows):
            if time.monotonic() >= deadline:
                break
            flow = rng.choices(flows, weights=cum)[0]
            if flow == "page":
                client.request("GET /login", "GET", "/login")
            elif flow == "signin":
                token = client.csrf("GET /login", "/login")
                if token is None:
                    continue
                status, _ = client.request(
                    "POST /login (right)",
                    "POST",
                    "/login",
                    {
                        "identifier": accounts.next_right(),
                        "password": password,
                        "csrf_token": token,
                    },
                )
                if status == 303:
                    _status, home = client.request("GET / (signed in)", "GET", "/")
                    match = CSRF_RE.search(home)
                    if match:
                        client.request(
                            "POST /logout", "POST", "/logout", {"csrf_token": match.group(1)}
                        )
                client.cookies.clear()  # signed out whatever happened: next flow starts fresh
            elif flow == "wrong":
                token = client.csrf("GET /login", "/login")
                if token is None:
                    continue
                client.request(
                    "POST /login (wrong)",
                    "POST",
                    "/login",
                    {
                        "identifier": accounts.next_wrong(),
                        "password": "not the password 0000",
                        "csrf_token": token,
                    },
                )
            else:
                token = client.csrf("GET /password/forgot", "/password/forgot")
                if token is None:
                    continue
                client.request(
                    "POST /password/forgot",
                    "POST",
                    "/password/forgot",
                    {"identifier": accounts.next_forgot(), "csrf_token": token},
                )
    finally:
        client.close()


# --- server processes: find them, read their memory and CPU ---------------------------


def _ppid_map() -> dict[int, int]:
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as fh:
                    parents[int(name)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return parents


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, parents first."""
    parents = _ppid_map()
    children = defaultdict(list)
    for pid, ppid in parents.items():
        children[ppid].append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop(0)
        if pid in parents:
            out.append(pid)
            todo.extend(sorted(children[pid]))
    return out


def listening_processes(port: int) -> list[int]:
    """Server processes: the topmost holder of the socket listening on ``port``, with its
    descendants (gunicorn's master, its workers and any mail-worker child)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            continue
    holders = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{name}/fd"):
                link = os.readlink(f"/proc/{name}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    holders.add(int(name))
                    break
        except OSError:
            continue
    if not holders:
        return []
    parents = _ppid_map()
    roots = [p for p in holders if parents.get(p) not in holders]
    pids = []
    for root in sorted(roots):
        pids += [p for p in process_tree(root) if p not in pids]
    return pids


def memory(pid: int) -> dict[str, float] | None:
    """RSS, PSS and USS (private) in MB from smaps_rollup; None if unreadable."""
    values = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3 and parts[-1] == "kB":
                    values[parts[0].rstrip(":")] = int(parts[1]) / 1024
    except OSError:
        return None
    return {
        "rss": values.get("Rss", 0.0),
        "pss": values.get("Pss", 0.0),
        "uss": values.get("Private_Clean", 0.0) + values.get("Private_Dirty", 0.0),
    }


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


def describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
        text = " ".join(
            os.path.basename(a.decode(errors="replace"))
            if a.startswith(b"/")
            else a.decode(errors="replace")
            for a in args
            if a
        )
    except OSError:
        text = "?"
    return text if len(text) <= 60 else text[:57] + "..."


def snapshot(pids: list[int]) -> dict[int, dict]:
    return {pid: m for pid in pids if (m := memory(pid)) is not None}


def print_memory(title: str, snap: dict[int, dict]) -> None:
    print(f"\n{title}")
    print(f"    {'pid':>7}  {'RSS MB':>7}  {'PSS MB':>7}  {'USS MB':>7}  process")
    for pid, m in snap.items():
        print(f"    {pid:>7}  {m['rss']:7.1f}  {m['pss']:7.1f}  {m['uss']:7.1f}  {describe(pid)}")
    if len(snap) > 1:
        print(
            f"    {'total':>7}  {sum(m['rss'] for m in snap.values()):7.1f}  "
            f"{sum(m['pss'] for m in snap.values()):7.1f}  "
            f"{sum(m['uss'] for m in snap.values()):7.1f}  "
            "(RSS total counts shared pages once per process; PSS total is the real cost)"
        )


# --- the run -------------------------------------------------------------------------


def parse_mix(text: str) -> dict[str, int]:
    weights = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in FLOWS:
            raise SystemExit(f"--mix: unknown flow {name!r} (use {', '.join(FLOWS)})")
        weights[name] = int(value or 1)
    if not any(weights.values()):
        raise SystemExit("--mix: every weight is 0")
    return weights


def loopback_target(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SystemExit("BASE_URL must be http://127.0.0.1:PORT (plain HTTP on loopback)")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, None)}
    except OSError as exc:
        raise SystemExit(f"cannot resolve {parts.hostname}: {exc}") from None
    if not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise SystemExit("bench/load.py drives loopback servers only")
    return parts.hostname, parts.port or 80


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int, rounds: int, server_args: list[str], log) -> subprocess.Popen:
    instance = os.path.dirname(url.split("sqlite:///", 1)[1])
    env = {
        **os.environ,
        "PASSGATE_INSTANCE": instance,
        "PASSGATE_SECRET_KEY": SECRET_KEY,  # the pepper of the seeded hashes
        "PASSGATE_DATABASE_URL": url,
        "PASSGATE_BASE_URL": f"http://127.0.0.1:{port}",
        "PASSGATE_MAIL_BACKEND": "console",
        "PASSGATE_BCRYPT_ROUNDS": str(rounds),  # as seeded: no rehash at sign-in
        "PASSGATE_LIMIT_LOGIN": "1000000 per minute",
        "PASSGATE_LIMIT_FORGOT": "1000000 per minute",
        "PASSGATE_RESET_MAILS_PER_WINDOW": "1000000",
        "PASSGATE_LOCKOUT_FREE_FAILURES": "1000000",
    }
    passgate = os.path.join(os.path.dirname(sys.executable), "passgate")
    cmd = (
        [passgate]
        if os.path.exists(passgate)
        else [sys.executable, "-c", "from portal.cli import main; main()"]
    )
    cmd += ["serve", "--host", "127.0.0.1", "--port", str(port), *server_args]
    print(
        "server: passgate " + " ".join(shlex.quote(c) for c in cmd[cmd.index("serve") :]),
        flush=True,
    )
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)


def wait_until_up(
    host: str, port: int, server: subprocess.Popen | None, log_path: str | None, seconds: float = 60
) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", "/healthz", headers={"Host": f"{host}:{port}"})
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        if (server is not None and server.poll() is not None) or time.monotonic() > deadline:
            tail = ""
            if log_path:
                with open(log_path, errors="replace") as fh:
                    tail = fh.read()[-2000:]
            raise SystemExit(f"server at {host}:{port} did not answer /healthz\n{tail}")
        time.sleep(0.2)


def drive(host: str, port: int, args, weights: dict[str, int]) -> tuple[Stats, float, float]:
    stats = Stats()
    accounts = Accounts(args.user_pattern, args.users)
    deadline = time.monotonic() + args.seconds
    threads = []
    for i in range(args.clients):
        source = (
            None
            if args.single_address or host not in ("127.0.0.1", "localhost")
            else f"127.0.{(i + 2) // 256}.{(i + 2) % 256}"
        )
        threads.append(
            threading.Thread(
                target=run_client,
                daemon=True,
                args=(
                    i,
                    host,
                    port,
                    source,
                    deadline,
                    weights,
                    accounts,
                    args.password,
                    stats,
                    args.seed,
                    args.max_flows,
                ),
            )
        )
    cpu0 = time.process_time()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.seconds + 120)  # a request in flight has 60 s at most
    return stats, time.perf_counter() - started, time.process_time() - cpu0


def report(stats: Stats, elapsed: float, client_cpu: float, server_cpu: float | None) -> None:
    total = sum(len(v) for v in stats.latency.values())
    print(
        f"\n{total:,} requests in {elapsed:.1f} s: {total / elapsed:,.1f} req/s "
        f"(load generator CPU {client_cpu:.1f} s = {100 * client_cpu / elapsed:.0f} % of "
        "one core)"
    )
    if server_cpu is not None and total:
        print(
            f"server CPU (all its processes, user + system): {server_cpu:.1f} s = "
            f"{1000 * server_cpu / total:.2f} ms per request"
        )
    print(
        f"\n    {'kind':<24} {'count':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8}  statuses"
    )
    order = [k for k in EXPECTED if k in stats.latency]
    for kind in order:
        values = stats.latency[kind]
        statuses = ", ".join(
            f"{s}: {n}" for s, n in sorted(stats.status[kind].items(), key=lambda x: str(x[0]))
        )
        print(
            f"    {kind:<24} {len(values):>7} {len(values) / elapsed:8.1f} "
            f"{pct(values, 50) * 1000:8.1f} {pct(values, 95) * 1000:8.1f} "
            f"{pct(values, 99) * 1000:8.1f} {max(values) * 1000:8.1f}  {statuses}"
        )
    errors: Counter = Counter()
    for kind, counter in stats.status.items():
        for status, n in counter.items():
            if status not in EXPECTED.get(kind, set()):
                errors[(status, kind)] += n
    if errors:
        print("\nerrors (unexpected statuses and exceptions):")
        by_status: Counter = Counter()
        for (status, kind), n in sorted(errors.items(), key=lambda x: str(x[0])):
            by_status[status] += n
            print(f"    {n:>7}  {status}  {kind}")
        print(
            "    by status: "
            + ", ".join(f"{s}: {n}" for s, n in sorted(by_status.items(), key=lambda x: str(x[0])))
        )
        if any(s == 429 for s, _k in errors):
            print(
                "    (429: the server's per-IP limits; a server started by load.py has them raised)"
            )
    else:
        print("\nerrors: none (every request answered the expected status)")


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("base_url", nargs="?", help="a running server (loopback); default: start one")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument(
        "--mix",
        default="page=4,signin=2,wrong=2,forgot=2",
        help="flow weights (page, signin, wrong, forgot)",
    )
    p.add_argument("--users", type=int, default=1000, help="accounts to seed / to use")
    p.add_argument("--rounds", type=int, default=12, help="bcrypt cost of the seeded accounts")
    p.add_argument(
        "--user-pattern",
        default="user{n:06d}",
        help="account names for an existing server (str.format with n)",
    )
    p.add_argument("--password", default=PASSWORD, help="their password")
    p.add_argument(
        "--server-args",
        default="",
        help='extra arguments for passgate serve, e.g. "--workers 2 --threads 4"',
    )
    p.add_argument(
        "--single-address",
        action="store_true",
        help="every client from 127.0.0.1 (default: 127.0.0.2, .3, … one each)",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed of the flow choice")
    p.add_argument("--max-flows", type=int, default=1_000_000, help="per client, a bound")
    args = p.parse_args()
    if args.clients < 1 or args.seconds <= 0:
        raise SystemExit("--clients and --seconds must be positive")
    weights = parse_mix(args.mix)

    if args.base_url:
        host, port = loopback_target(args.base_url)
        wait_until_up(host, port, None, None, 10)
        pids = listening_processes(port)
        print(f"target: {args.base_url} (server processes: {pids or 'not found'})")
        run(host, port, args, weights, pids, None)
        return

    if args.database_url and not args.database_url.startswith("sqlite"):
        print("note: load.py starts its own server on SQLite; --database-url ignored")
    with database_url(None) as url:
        app = make_app(url, BCRYPT_ROUNDS=args.rounds)
        migrate(app)
        seed(app, args.users, varied=False)
        port = free_port()
        with tempfile.NamedTemporaryFile(
            "w+b", prefix="passgate-load-", suffix=".log", delete=False
        ) as log:
            log_path = log.name
        with open(log_path, "wb") as log:
            server = start_server(url, port, args.rounds, shlex.split(args.server_args), log)
            try:
                wait_until_up("127.0.0.1", port, server, log_path)
                time.sleep(1.0)  # let workers finish starting
                pids = process_tree(server.pid)
                run("127.0.0.1", port, args, weights, pids, server)
            finally:
                server.terminate()
                try:
                    server.wait(30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait(10)
        with open(log_path, errors="replace") as fh:
            text = fh.read()
        os.unlink(log_path)
        print(
            f"\nserver log: {text.count('Traceback')} tracebacks, "
            f"{text.count('database is locked')} 'database is locked'; "
            f"exit status after SIGTERM: {server.returncode}"
        )
        if "Traceback" in text:
            lines = text.splitlines()
            raised = Counter(
                line for line in lines if re.match(r"^[\w.]+(Error|Exception)(:|$)", line)
            )
            frames = Counter(
                line.strip()
                for line in lines
                if line.strip().startswith("File") and "/portal/" in line
            )
            print("exceptions in the server log:")
            for line, n in raised.most_common(5):
                print(f"    {n:>5}  {line[:150]}")
            print("Passgate frames in those tracebacks:")
            for line, n in frames.most_common(6):
                print(f"    {n:>5}  {line[:150]}")


def run(
    host: str,
    port: int,
    args,
    weights: dict[str, int],
    pids: list[int],
    server: subprocess.Popen | None,
) -> None:
    print(
        f"{args.clients} clients x {args.seconds:g} s, mix {weights}, "
        f"{'one address' if args.single_address else 'one source address per client'}; "
        f"{os.cpu_count()} CPUs; {load_note()}",
        flush=True,
    )
    idle = snapshot(pids)
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    stats, elapsed, client_cpu = drive(host, port, args, weights)
    # Processes may have come and gone (worker restarts): measure the tree as it is now.
    if server is not None:
        pids = process_tree(server.pid)
    elif pids:
        pids = listening_processes(port) or pids
    cpu_after = sum(cpu_seconds(pid) for pid in pids)
    after = snapshot(pids)
    report(stats, elapsed, client_cpu, (cpu_after - cpu_before) if pids else None)
    if idle:
        print_memory("server memory before the run (idle):", idle)
    if after:
        print_memory("server memory after the run:", after)
    if not pids:
        print("\nserver processes not found: memory not measured")


if __name__ == "__main__":
    main()
