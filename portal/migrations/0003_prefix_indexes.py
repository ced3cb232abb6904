"""Prefix-search indexes for PostgreSQL (SQLite's ordinary indexes already serve ranges)."""


def up(migrator, db):
    from portal.db import create_prefix_indexes

    create_prefix_indexes(db)
