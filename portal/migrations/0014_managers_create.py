"""Managers add accounts to their own teams (seed 003: the *responsable* manages their
team's accounts): the built-in ``manager`` role gains ``users.create``. Reach still applies
(``access.may_create``): only roles below theirs, only in one of their teams. A role row an
organisation changed by hand keeps its permissions unless it is still the built-in set."""

BUILT_IN = "users.read users.update audit.read"


def up(migrator, db):
    db.execute_sql(
        "UPDATE role SET permissions = %s WHERE name = %s AND permissions = %s".replace(
            "%s", db.param
        ),
        ("users.read users.create users.update audit.read", "manager", BUILT_IN),
    )


def down(migrator, db):
    db.execute_sql(
        "UPDATE role SET permissions = %s WHERE name = %s".replace("%s", db.param),
        (BUILT_IN, "manager"),
    )
