"""The production server behind ``passgate serve``.

On Linux and macOS: gunicorn, one process per core by default (``--workers``), each with
a few threads (``--threads``; bcrypt releases the GIL), the application loaded once in
the master before forking (blocklist, templates, catalogs and the dummy hash are shared
copy-on-write), graceful shutdown on SIGTERM (requests in flight finish; queued mail
stays queued). Exactly one of the processes runs the background worker (see
``portal/worker.py``). Elsewhere (Windows): waitress, one process.
"""

from __future__ import annotations

import gc
import logging
import os

from . import worker

GRACEFUL_SECONDS = 30


def default_workers() -> int:
    return os.cpu_count() or 1


def warm_up(app) -> None:
    """Work every process would repeat: do it once, before forking."""
    from flask_babel import force_locale, gettext

    from . import passwords, policy

    policy.common_passwords()  # the 47,763-word blocklist
    policy._word_index()  # and its prefix index (1 MB), else built in each worker
    for name in app.jinja_env.list_templates():
        if name.endswith((".html", ".txt")):
            app.jinja_env.get_template(name)
    with app.test_request_context():
        for lang in app.config["LANGUAGES"]:
            with force_locale(lang):
                gettext("Sign in")
        passwords._dummy_hash()  # one bcrypt at the configured cost


def serve(app, host: str, port: int, *, workers: int | None = None, threads: int = 4,
          background_worker: bool = True, announce=print) -> None:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # Windows: gunicorn does not run there
        BaseApplication = None
    announce(f"Passgate on http://{host}:{port}/ (public URL {app.config['BASE_URL']})")
    if not logging.getLogger().handlers:  # Passgate's own events beside gunicorn's
        logging.basicConfig(level=logging.INFO,
                            format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: "
                                   "%(message)s")
    if BaseApplication is None:
        _waitress(app, host, port, threads, background_worker)
        return
    warm_up(app)
    gc.collect()
    gc.freeze()  # keep the preloaded objects' pages shared after fork

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
    }

    class Server(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Server().run()


def _waitress(app, host, port, threads, background_worker) -> None:
    from waitress import serve as waitress_serve

    leader = worker.Leader(app).start() if background_worker else None
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="")
    finally:
        if leader is not None:
            leader.shutdown()
