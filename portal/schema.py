"""Create or upgrade the schema (peewee's migration runner) and seed the built-in roles."""

from __future__ import annotations

import os

from playhouse.migrations import Runner

from .db import database
from .models import DEFAULT_ROLES, Role

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def migrate() -> list[str]:
    """Apply pending migrations; safe to run any number of times. Returns what ran."""
    database.connect(reuse_if_open=True)
    applied = Runner(database.obj, directory=MIGRATIONS).up()
    with database.atomic():
        for name, perms, scope, rank in DEFAULT_ROLES:
            if Role.get_or_none(Role.name == name) is None:
                Role.create(name=name, permissions=perms, scope=scope, rank=rank)
    return applied
