"""Bulk actions on users (progress, once-only results); status-filter indexes on user."""

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from portal.migrations._frozen import create_table, partial_index, table


def up(migrator, db):
    create_table(
        db,
        "bulk_job",
        public_id=CharField(unique=True, max_length=43),
        actor=ForeignKeyField(table(db, "user"), null=True, on_delete="SET NULL"),
        action=CharField(max_length=16),
        status=CharField(max_length=12, default="running"),
        total=IntegerField(default=0),
        done=IntegerField(default=0),
        failed=IntegerField(default=0),
        summary=TextField(default=""),
        results=TextField(default=""),
        results_shown=BooleanField(default=False),
        created_at=DateTimeField(index=True),
        finished_at=DateTimeField(null=True),
    )
    # The user list filters by status (Locked, Disabled) at 100,000 users: partial indexes
    # hold only the few rows that match (a plain boolean index looks useless to the planner).
    migrator.migrate(
        partial_index(migrator, "user", ("hard_locked",), "hard_locked = TRUE"),
        partial_index(migrator, "user", ("disabled",), "disabled = TRUE"),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("user", "user_hard_locked"),
        migrator.drop_index("user", "user_disabled"),
    )
    migrator.migrate(migrator.drop_table("bulk_job"))
