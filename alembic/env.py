"""Alembic environment for obsstore: all the work happens in ``obsstore.migrate`` so that the
command line, ``storage.init()`` and the installed package share one code path."""

from logging.config import fileConfig

from alembic import context
from obsstore.migrate import run_environment
from obsstore.storage.migration import migration_connection

if context.config.config_file_name is not None and "connection" not in context.config.attributes:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

run_environment(context, migration_connection)
