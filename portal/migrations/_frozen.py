"""Building blocks of the numbered migrations: a frozen table from its name and fields, and
a partial index. Not a migration itself (the runner loads only files that start with a digit).

Migrations are history: they declare each table as it was when they were written and never
import ``portal.models``. What is here is shared by applied migrations, so changing what it
emits changes databases already installed — add, do not alter.
"""

from __future__ import annotations

from peewee import SQL, Model


def table(db, table_name: str, /, *, indexes=None, **fields) -> type[Model]:
    """The frozen model of ``table_name`` bound to the migration's ``db``, with ``fields`` in
    the order given. Without fields it is a stub that a foreign key can point at.

    The class is named after the table (``audit_event`` -> ``AuditEvent``), as a hand-written
    ``class AuditEvent(Model)`` was: peewee names indexes after it (``auditevent_actor_id``).
    """
    meta = {"database": db, "table_name": table_name}
    if indexes is not None:
        meta["indexes"] = indexes
    name = table_name.title().replace("_", "")
    return type(name, (Model,), {"Meta": type("Meta", (), meta), **fields})


def create_table(db, table_name: str, /, *, indexes=None, **fields) -> type[Model]:
    """Declare the frozen table (see ``table``), create it with its indexes, return it."""
    model = table(db, table_name, indexes=indexes, **fields)
    db.create_tables([model])
    return model


def partial_index(migrator, table_name: str, columns: tuple, where: str, name=None):
    """A non-unique index over the rows that match ``where`` (SQL, written for both SQLite and
    PostgreSQL), named ``name`` or, without one, after the table and columns."""
    return migrator.add_index(table_name, columns, False, where=SQL(where), name=name)
