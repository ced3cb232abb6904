"""The production server behind ``passgate serve``.

On Linux and macOS: gunicorn, one process per core by default (``--workers``), each with
a few threads (``--threads``; bcrypt releases the GIL), the application loaded once in
the master before forking (blocklist, templates, catalogs and the dummy hash are shared
copy-on-write), graceful shutdown on SIGTERM (requests in flight finish; queued mail
stays queued).

The background worker (``portal/worker.py``) runs in a process of its own, forked from the
master before the HTTP workers: its work (rendering and sending mail) never competes with
a request for an HTTP process's interpreter lock, so it cannot make the request that
follows a known user's forgot-password request slower than the one after an unknown
user's. It holds the instance's worker lock; should it die, one HTTP worker process takes
the lock over and runs the worker in a thread until the server restarts. Elsewhere
(Windows): waitress, one process.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import time

from flask_babel import force_locale, gettext

from . import blocklist, passwords, wakeup, worker

GRACEFUL_SECONDS = 30


def default_workers() -> int:
    return os.cpu_count() or 1


def warm_up(app) -> None:
    """Work every process would repeat: do it once, before forking."""
    blocklist.common_passwords()  # the 47,763-word blocklist
    storage = getattr(app.extensions.get("passgate_limiter"), "storage", None)
    if hasattr(storage, "check"):
        storage.check()  # the shared rate-limit file exists (WAL) before the workers open it
    blocklist.word_index()  # and its prefix index (1 MB), else built in each worker
    for name in app.jinja_env.list_templates():
        if name.endswith((".html", ".txt")):
            app.jinja_env.get_template(name)
    with app.test_request_context():
        for lang in app.config["LANGUAGES"]:
            with force_locale(lang):
                gettext("Sign in")
        passwords._dummy_hash()  # one bcrypt at the configured cost


def serve(
    app,
    host: str,
    port: int,
    *,
    workers: int | None = None,
    threads: int = 4,
    background_worker: bool = True,
    announce=print,
) -> None:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # Windows: gunicorn does not run there
        BaseApplication = None
    announce(f"Passgate on http://{host}:{port}/ (public URL {app.config['BASE_URL']})")
    if not logging.getLogger().handlers:  # Passgate's own events beside gunicorn's
        logging.basicConfig(
            level=logging.INFO,
            format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
        )
    if BaseApplication is None:
        _waitress(app, host, port, threads, background_worker)
        return
    warm_up(app)
    gc.collect()
    gc.freeze()  # keep the preloaded objects' pages shared after fork
    background = fork_background_worker(app) if background_worker else None

    def on_exit(server):
        if background is not None:
            stop_background_worker(background)

    def post_fork(server, process):
        if background_worker:
            process.passgate_leader = worker.Leader(app).start()

    def worker_exit(server, process):
        leader = getattr(process, "passgate_leader", None)
        if leader is not None:
            leader.shutdown(timeout=GRACEFUL_SECONDS / 2)

    options = {
        "bind": f"{host}:{port}",
        "workers": workers or default_workers(),
        "threads": max(1, threads),
        "worker_class": "gthread",
        "preload_app": True,
        "graceful_timeout": GRACEFUL_SECONDS,
        "timeout": 60,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "passgate",
        "control_socket_disable": True,  # no gunicornc socket in $HOME (two servers clash)
        "post_fork": post_fork,
        "worker_exit": worker_exit,
        "on_exit": on_exit,
    }

    class Server(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Server().run()


def fork_background_worker(app) -> int:
    """Fork the background worker process (call while this process has no threads)."""
    master = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    # The child: stop on SIGTERM (graceful) and when the master is gone.
    leader = worker.Leader(app)

    def stop(*_):
        leader.stop.set()
        wakeup.signal(app.instance_path)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the master stops us
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    code = 0
    try:
        leader.thread.start()
        while leader.thread.is_alive():
            if os.getppid() != master:
                leader.shutdown(timeout=GRACEFUL_SECONDS / 2)
            leader.thread.join(1.0)
    except BaseException:  # noqa: BLE001 — never fall back into the master's code
        logging.getLogger("passgate.worker").exception("background worker process failed")
        code = 1
    finally:
        sys.stdout.flush()
        os._exit(code)


def stop_background_worker(pid: int, timeout: float = GRACEFUL_SECONDS / 2) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # already reaped (by gunicorn's SIGCHLD handler)
            return
        if done:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


def _waitress(app, host, port, threads, background_worker) -> None:
    from waitress import serve as waitress_serve

    leader = worker.Leader(app).start() if background_worker else None
    try:
        # Keep X-Forwarded-For/-Proto: waitress drops them by default, and then ProxyFix
        # (PASSGATE_TRUSTED_PROXIES) sees every visitor as the proxy (one rate-limit bucket).
        waitress_serve(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="",
            clear_untrusted_proxy_headers=False,
        )
    finally:
        if leader is not None:
            leader.shutdown()
