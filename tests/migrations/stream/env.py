"""Environment of the test-only migration stream: always runs on the caller's connection."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table="stream_alembic_version")
with context.begin_transaction():
    context.run_migrations()
