"""Invitation reminders (issue 10, item 6): a link row remembers that its reminder went
out (set by the conditional UPDATE that claims it, so two workers never both send it),
and a small partial index finds the few invitations still waiting for one."""

from peewee import SQL, DateTimeField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("reset_token", "reminded_at", DateTimeField(null=True)),
        migrator.add_index(
            "reset_token",
            ("expires_at",),
            False,
            where=SQL("purpose = 'invite' AND used_at IS NULL AND reminded_at IS NULL"),
            name="reset_token_invite_reminder",
        ),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("reset_token", "reset_token_invite_reminder"),
        migrator.drop_column("reset_token", "reminded_at"),
    )
