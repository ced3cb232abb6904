"""Audit rows that stand for several identical anonymous refusals (issue 11, finding 8)."""

from peewee import IntegerField


def up(migrator, db):
    migrator.migrate(migrator.add_column("audit_event", "repeats", IntegerField(default=1)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("audit_event", "repeats"))
