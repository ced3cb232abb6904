"""Numeric passcodes (F19): one hashed passcode per user, and the API keys that let another
system verify one."""

from peewee import *


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Passcode(Model):
        user = ForeignKeyField(User, primary_key=True, on_delete="CASCADE")
        passcode_hash = CharField(max_length=100)
        changed_at = DateTimeField()
        temporary = BooleanField(default=False)
        expires_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "passcode"

    class ApiKey(Model):
        name = CharField(max_length=64)
        key_hash = CharField(max_length=64, unique=True)
        prefix = CharField(max_length=12)
        scope = CharField(max_length=32, default="passcode.verify")
        created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = DateTimeField()
        last_used_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "api_key"

    db.create_tables([Passcode, ApiKey])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("api_key"), migrator.drop_table("passcode"))
