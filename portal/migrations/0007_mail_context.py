"""Queued mail keeps what it needs to be written (its context and language) and is
rendered when it is sent: queueing 10,000 recovery links does no template work."""

from peewee import CharField, TextField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("outbox_mail", "context", TextField(default="")),
        migrator.add_column("outbox_mail", "language", CharField(max_length=8, default="")),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("outbox_mail", "context"),
        migrator.drop_column("outbox_mail", "language"),
    )
