"""Invitation reminders (issue 10, item 6): a link row remembers that its reminder went
out (set by the conditional UPDATE that claims it, so two workers never both send it),
and a small partial index finds the few invitations still waiting for one."""

from peewee import DateTimeField

from portal.migrations._frozen import partial_index


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("reset_token", "reminded_at", DateTimeField(null=True)),
        partial_index(
            migrator,
            "reset_token",
            ("expires_at",),
            "purpose = 'invite' AND used_at IS NULL AND reminded_at IS NULL",
            "reset_token_invite_reminder",
        ),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("reset_token", "reset_token_invite_reminder"),
        migrator.drop_column("reset_token", "reminded_at"),
    )
