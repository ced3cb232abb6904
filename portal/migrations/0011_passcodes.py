"""Numeric passcodes (F19): one hashed passcode per user, and the API keys that let another
system verify one."""

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField

from portal.migrations._frozen import table


def up(migrator, db):
    user = table(db, "user")
    passcode = table(
        db,
        "passcode",
        user=ForeignKeyField(user, primary_key=True, on_delete="CASCADE"),
        passcode_hash=CharField(max_length=100),
        changed_at=DateTimeField(),
        temporary=BooleanField(default=False),
        expires_at=DateTimeField(null=True),
    )
    api_key = table(
        db,
        "api_key",
        name=CharField(max_length=64),
        key_hash=CharField(max_length=64, unique=True),
        prefix=CharField(max_length=12),
        scope=CharField(max_length=32, default="passcode.verify"),
        created_by=ForeignKeyField(user, null=True, on_delete="SET NULL"),
        created_at=DateTimeField(),
        last_used_at=DateTimeField(null=True),
        revoked_at=DateTimeField(null=True),
    )
    db.create_tables([passcode, api_key])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("api_key"), migrator.drop_table("passcode"))
