"""UTS #39 skeletons of usernames, so that a new name confusable with an existing one is
refused (issue 11, finding 10). Existing rows are filled in here."""

from peewee import CharField


def up(migrator, db):
    from portal.accounts import username_skeleton

    migrator.migrate(
        migrator.add_column("user", "username_skeleton", CharField(max_length=128, null=True)),
        migrator.add_index("user", ("username_skeleton",), False),
    )
    rows = db.execute_sql('SELECT id, username FROM "user"').fetchall()
    with db.atomic():
        for user_id, username in rows:
            db.execute_sql(
                'UPDATE "user" SET username_skeleton = %s WHERE id = %s'.replace("%s", db.param),
                (username_skeleton(username), user_id),
            )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("user", "user_username_skeleton"),
        migrator.drop_column("user", "username_skeleton"),
    )
