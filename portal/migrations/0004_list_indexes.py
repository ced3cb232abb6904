"""Indexes for the user list at 100,000 users (measured with bench/admin_search.py):
the "Invitation pending" filter and a team's list sorted by username."""

from portal.migrations._frozen import partial_index


def up(migrator, db):
    migrator.migrate(
        partial_index(
            migrator, "user", ("username_key",), "password_hash IS NULL", "user_invited_username"
        ),
        migrator.add_index("user", ("team_id", "username_key"), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("user", "user_invited_username"),
        migrator.drop_index("user", "user_team_id_username_key"),
    )
