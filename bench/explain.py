"""``python -m bench.explain [POINTS]``: the query plans of the statements obsstore runs for the
dashboard rows (3-5), on SQLite (EXPLAIN QUERY PLAN), DuckDB (EXPLAIN) and PostgreSQL (EXPLAIN
ANALYZE). The statements are captured as obsstore sends them, parameters included."""

from __future__ import annotations

import sys
import tempfile
from contextlib import ExitStack
from typing import Any

import sqlalchemy as sa

from bench import queries, workload
from bench.postgres import find_server, scratch_database
from obsstore import create_storage

_EXPLAIN = {"sqlite": "EXPLAIN QUERY PLAN ", "duckdb": "EXPLAIN ", "postgresql": "EXPLAIN ANALYZE "}


def plans(url: str, points: int) -> None:
    with create_storage(url) as storage:
        storage.init()
        for chunk in workload.chunks(points, 10_000):
            storage.batch_record_metrics(chunk)
        queries.analyze(storage)
        engine: sa.Engine = storage.engine  # type: ignore[attr-defined]
        captured: list[tuple[str, Any]] = []

        def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                captured.append((statement, parameters))

        sa.event.listen(engine, "before_cursor_execute", capture)
        for row, call in queries.obsstore_calls(storage).items():
            captured.clear()
            call()
            statements = list(captured)
            for statement, parameters in statements:
                print(f"\n### {engine.dialect.name}: {row}\n\n```\n{statement.strip()}\n--")
                with engine.connect() as connection:
                    result = connection.exec_driver_sql(
                        _EXPLAIN[engine.dialect.name] + statement, parameters
                    )
                    for plan in result:
                        print(" | ".join(str(v) for v in plan[-1:] if v is not None))
                print("```")
        sa.event.remove(engine, "before_cursor_execute", capture)


def main(argv: list[str]) -> None:
    points = int(argv[0]) if argv else 200_000
    with ExitStack() as stack:
        directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="obsstore-explain-"))
        plans(f"sqlite:///{directory}/explain.db", points)
        plans(f"duckdb:///{directory}/explain.duckdb", points)
        server = find_server()
        if server is not None:
            if server[1] is not None:
                stack.callback(server[1])
            plans(stack.enter_context(scratch_database(server[0])), points)


if __name__ == "__main__":
    main(sys.argv[1:])
