"""The ``passgate`` command line (``main``): one module per family of commands."""

from . import account_commands, backup_commands, server_commands  # noqa: F401
from .group import main  # noqa: F401
