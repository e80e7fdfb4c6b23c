"""Alembic's implementation for the ``duckdb`` dialect, registered on import.

duckdb-engine speaks PostgreSQL's SQL dialect, so the PostgreSQL implementation fits; DuckDB
runs DDL inside transactions. Alembic finds implementations by dialect name, so importing this
module once (``obsstore.migrate`` does) is all the registration needed."""

from __future__ import annotations

from alembic.ddl.postgresql import PostgresqlImpl


class DuckDBImpl(PostgresqlImpl):
    __dialect__ = "duckdb"
    transactional_ddl = True
