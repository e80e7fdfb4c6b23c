"""Where ClickHouse mutations go in cluster mode: the one place that routes them.

In cluster mode (``?cluster=<name>``, see ``obsstore.alembic_clickhouse``) each obsstore table
is a ``Distributed`` table over ``<table>_local`` tables on the shards. ClickHouse reads and
inserts through a Distributed table but refuses to DELETE or UPDATE there ("DELETE query is not
supported for table ..."), and a TRUNCATE there succeeds and leaves every row (it empties only
the queue of pending inserts). So every DELETE,
UPDATE and TRUNCATE of an obsstore table compiles, when the dialect carries a cluster, to the
local table ``ON CLUSTER <name>``: shared query code stays as it is, and a new mutation path
cannot forget the routing. Without a cluster the statements compile as the driver spells them.

Each statement waits for every replica before it returns, so a read that follows sees it:
``lightweight_deletes_sync = 2`` (DELETE), ``alter_sync = 2`` (TRUNCATE); an ON CLUSTER query
itself returns once every host ran it (``distributed_ddl_output_mode`` ``throw``, the default).
A lightweight UPDATE writes patch parts like an insert writes parts: visible at once on the
replica that ran it, replicated to the others as inserts are (no setting waits for that)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from clickhouse_connect.cc_sqlalchemy.sql import format_table
from clickhouse_connect.driver.binding import quote_identifier
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import visitors
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Delete, Update

from obsstore.alembic_clickhouse import LOCAL_SUFFIX
from obsstore.ddl import Truncate
from obsstore.schema import metadata

# Settings each routed statement carries (in its text, so every host of the cluster runs it
# with them): wait until every replica applied it.
_WAIT_FOR_REPLICAS = {
    "DELETE FROM": "lightweight_deletes_sync = 2",
    "UPDATE": None,  # patch parts are copied like inserted parts: no setting waits for that
    "TRUNCATE TABLE": "alter_sync = 2",
}


def _routed(table: Any, compiler: Any) -> str | None:
    """The cluster a mutation of ``table`` goes to, or None to leave it as compiled.
    Only obsstore's own tables are Distributed; a session's temporary table or Alembic's
    version table (replicated, not distributed) is mutated where it is."""
    # ClickHouseStorage.build_engine puts the URL's cluster on its engine's dialect.
    cluster: str | None = getattr(compiler.dialect, "obsstore_cluster", None)
    ours = isinstance(table, sa.Table) and table.metadata is metadata
    return cluster if cluster is not None and ours else None


def _on_cluster(text: str, verb: str, table: sa.Table, cluster: str) -> str:
    """``text`` (``<verb> <table> ...``) aimed at ``<table>_local ON CLUSTER <cluster>``."""
    head = f"{verb} {format_table(table)}"
    if not text.startswith(head):  # the driver changed how it spells the statement
        raise CompileError(f"cannot route {text[:80]!r} to {table.name}{LOCAL_SUFFIX}")
    local = quote_identifier(table.name + LOCAL_SUFFIX)
    routed = f"{verb} {local} ON CLUSTER {quote_identifier(cluster)}{text[len(head) :]}"
    wait = _WAIT_FOR_REPLICAS[verb]
    return routed if wait is None else f"{routed} SETTINGS {wait}"


def _refuse_subqueries(statement: Delete | Update, table: sa.Table) -> None:
    # Every host runs the mutation against its own shard: a subquery would read either that
    # shard alone or the whole cluster (refused by replicated tables as non-deterministic).
    if any(isinstance(e, sa.Select) for e in visitors.iterate(statement)):
        raise CompileError(f"a cluster-mode mutation of {table.name} cannot hold a subquery")


@compiles(Delete, "clickhousedb")
def _delete(element: Delete, compiler: SQLCompiler, **kw: Any) -> str:
    text: str = compiler.visit_delete(element, **kw)  # type: ignore[no-untyped-call]
    table = element.table
    cluster = _routed(table, compiler)
    if cluster is None:
        return text
    assert isinstance(table, sa.Table)  # _routed says so
    _refuse_subqueries(element, table)
    return _on_cluster(text, "DELETE FROM", table, cluster)


@compiles(Update, "clickhousedb")
def _update(element: Update, compiler: SQLCompiler, **kw: Any) -> str:
    table = element.table
    cluster = _routed(table, compiler)
    if cluster is None:
        return compiler.visit_update(element, **kw)
    assert isinstance(table, sa.Table)  # _routed says so
    _refuse_subqueries(element, table)
    # Columns unqualified (as the driver writes a DELETE's): the table is renamed below.
    text: str = compiler.visit_update(element, **{**kw, "include_table": False})
    return _on_cluster(text, "UPDATE", table, cluster)


@compiles(Truncate, "clickhousedb")
def _truncate(element: Truncate, compiler: SQLCompiler, **kw: Any) -> str:
    table = element.element
    text = f"TRUNCATE TABLE {compiler.preparer.format_table(table)}"
    cluster = _routed(table, compiler)
    return text if cluster is None else _on_cluster(text, "TRUNCATE TABLE", table, cluster)
