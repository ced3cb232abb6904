"""The ``passgate`` command group: every command exits non-zero with a one-line reason."""

from __future__ import annotations

import click
from peewee import DatabaseError, InterfaceError

from .. import create_app

INSTANCE_HELP = "Instance folder (default: ./instance, or $PASSGATE_INSTANCE)."


def _app(**overrides):
    return create_app(overrides or None)


def _fail(message: str) -> None:
    raise click.ClickException(message)


class PassgateGroup(click.Group):
    """Turn database failures into a one-line reason and a non-zero exit."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (DatabaseError, InterfaceError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise click.ClickException(f"database: {reason}") from None


@click.group(cls=PassgateGroup)
def main() -> None:
    """Passgate: password self-service and account administration."""
