"""More indexes for the user list at 100,000 users (bench/admin_search.py).

- A manager's reach is ``team_id IN (…) AND role IN (…)``: with ``(team_id, role,
  username_key)`` the count reads the index alone (0.2 ms instead of 5–6 ms reading a
  team's 5,000 rows) and the first page comes in username order without a sort.
- "Must change password", like "Invitation pending" (migration 0004): a partial index in
  username order over the few accounts concerned, instead of a count that read nearly
  every row through the ``locked_until`` index.
"""

from portal.migrations._frozen import partial_index


def up(migrator, db):
    migrator.migrate(
        migrator.add_index("user", ("team_id", "role", "username_key"), False),
        partial_index(
            migrator, "user", ("username_key",), "must_change = TRUE", "user_must_change_username"
        ),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("user", "user_team_id_role_username_key"),
        migrator.drop_index("user", "user_must_change_username"),
    )
