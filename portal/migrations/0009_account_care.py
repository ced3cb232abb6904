"""Account care (issue 10, items 1-3).

- ``user.backup_email``: a personal recovery address, set only once confirmed by a link
  mailed to it; ``backup_email_key`` (folded) is unique, like ``email_key``.
- ``reset_token.data``: what a link confirms (the new address of an email change or the
  backup address being added); empty for the other kinds.
- ``recovery_request.user_agent``: the requester's browser, described in the mail it
  causes ("this wasn't me").
"""

from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("user", "backup_email", CharField(max_length=254, null=True)),
        migrator.add_column("user", "backup_email_key", CharField(max_length=254, null=True)),
        migrator.add_index("user", ("backup_email_key",), True),
        migrator.add_column("reset_token", "data", CharField(max_length=254, default="")),
        migrator.add_column(
            "recovery_request", "user_agent", CharField(max_length=255, default="")
        ),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("user", "user_backup_email_key"),
        migrator.drop_column("user", "backup_email"),
        migrator.drop_column("user", "backup_email_key"),
        migrator.drop_column("reset_token", "data"),
        migrator.drop_column("recovery_request", "user_agent"),
    )
