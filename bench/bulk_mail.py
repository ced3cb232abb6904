"""Bulk recovery links for N selected users, then delivery of the queued mail.

Prints: seconds to queue the links (target: 10,000 in ≤ 2 s) with the rate, and mails/s
delivered by the background worker to a local SMTP server (aiosmtpd on loopback; target
≥ 200 mails/s, one SMTP connection per batch). Nothing is asserted.

    .venv/bin/python bench/bulk_mail.py [--users 10000] [--database-url postgresql://…]
"""

from __future__ import annotations

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402


def smtp_sink():
    from aiosmtpd.controller import Controller

    class Handler:
        count = 0

        async def handle_DATA(self, server, session, envelope):
            Handler.count += 1
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, Handler, port


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=10_000)
    args = p.parse_args()
    controller, handler, port = smtp_sink()
    try:
        with _common.database_url(args.database_url) as url:
            app = _common.make_app(
                url,
                MAIL_BACKEND="smtp",
                MAIL_SERVER="127.0.0.1",
                MAIL_PORT=port,
                RESET_MAILS_PER_WINDOW=10**6,
            )
            _common.migrate(app)
            _common.seed(app, args.users, varied=False, progress=False)
            run(app, args.users, handler)
    finally:
        controller.stop()


def run(app, n: int, handler) -> None:
    from portal import worker
    from portal.bulk import service as bulk
    from portal.db import database
    from portal.models import OutboxMail, User

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        actor = User.create(
            username="bench-admin",
            username_key="bench-admin",
            role="admin",
            security_stamp="0" * 32,
        )
        users = list(User.select().where(User.email.is_null(False)).limit(n))
        started = time.perf_counter()
        job = bulk.start(actor, "recovery", users)
        while bulk.BulkJob.get_by_id(job.id).status == "running":
            time.sleep(0.05)
        queued_s = time.perf_counter() - started
        queued = OutboxMail.select().where(OutboxMail.status == "queued").count()
        print(f"users selected:        {len(users):,}")
        print(
            f"links + mails queued:  {queued:,} in {queued_s:.2f} s "
            f"({queued / queued_s:,.0f}/s)  target: 10,000 in ≤ 2 s"
        )
        started = time.perf_counter()
        while True:  # until a pass finds nothing due
            counts = worker.run_once()
            if not (counts["sent"] or counts["retry"] or counts["failed"]):
                break
        sent_s = time.perf_counter() - started
        print(
            f"delivered over SMTP:   {handler.count:,} in {sent_s:.2f} s "
            f"({handler.count / sent_s:,.0f} mails/s)  target: ≥ 200 mails/s"
        )
        print(_common.load_note())
        database.close()


if __name__ == "__main__":
    main()
