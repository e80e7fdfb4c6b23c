"""The dashboard rows: one ``obsstore dashboard`` refresh (``--since 1h``, the default) on big
stores, side by side in the same run with two baselines: the refresh's own statements replayed
through the raw driver (the database's share), and a hand-written ``count(*)`` of the window.

``python -m bench.dashboard [--sizes 1000000,10000000] [--backends sqlite,duckdb,postgresql]
[--repeats 5] [--days 30] [--no-control]``. Prints a Markdown table (progress on stderr).

Each store is generated once per backend and size with the database's own bulk tools: obsstore
stores ``TEMPLATES`` points shaped as ``obsstore.routes.recording`` records them (OpenTelemetry
``http.server.request.duration`` histograms labelled ``http.route``, ``http.request.method``,
``http.response.status_code`` and ``error.type``; ``obsstore.operation.duration`` for
operations), so every column is encoded by obsstore itself; then one ``INSERT ... SELECT``
copies them over a series (SQLite recursive CTE, DuckDB ``range()``, PostgreSQL
``generate_series``), each copy shifted in time, until the store holds N points spread evenly
over ``--days`` days ending one hour after generation (so the window stays full while the
repeats run). Rows go in in time order, as an ingest stores them, with zero-padded ids, so every
B-tree fills in order; on PostgreSQL the secondary indexes are dropped during the copy and
recreated from their own definitions afterwards. The control store (skip with
``--no-control``) holds the largest size over proportionally more days: as many points in the
window as the smallest store, on a store as big as the largest.

The timed refresh is ``take_snapshot`` (what the live loop and ``--once`` call) with the window
and period ``--since 1h`` gives, from the dashboard's own ``_window``. The spans table is empty:
the two ``list_traces`` pages are index probes."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench import places
from bench.postgres import find_server, scratch_database
from obsstore import MetricRecord, create_storage
from obsstore.cli.dashboard import _window
from obsstore.cli.dashboard.snapshot import take_snapshot
from obsstore.models._fields import utc_now
from obsstore.routes.recording import (
    ERROR_LABEL,
    METHOD_LABEL,
    OPERATION_LABEL,
    OPERATION_METRIC,
    ROUTE_LABEL,
    ROUTE_METRIC,
    STATUS_LABEL,
    duration_point,
)
from obsstore.sqltypes import UTCTimestamp

TEMPLATES = 1000  # distinct points copied over the series; the store size is a multiple
ROUTES = [f"/api/v1/resource{i}/{{id}}" for i in range(20)]
METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"]
OPERATIONS = [f"job.step{i}" for i in range(5)]
SINCE = "1h"
# One INSERT ... SELECT per backend: template k of copy g gets the id p<g>-t<k> (zero-padded:
# ids arrive in order where the series is the outer loop, as SQLite's CROSS JOIN makes it) and
# the template's timestamp plus g copies' time span.
COPY = {
    "sqlite": (
        "INSERT INTO obsstore_metrics (id, timestamp, name, type, value, labels, "
        "organization_id, environment, service_name, trace_id, span_id, bucket_boundaries, "
        "bucket_counts, unit, start_timestamp, histogram_count, histogram_min, histogram_max) "
        "WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM s WHERE g < :copies - 1) "
        "SELECT printf('p%07d-', g) || t.id, t.timestamp + g * :span_us, name, type, value, "
        "labels, organization_id, environment, service_name, trace_id, span_id, "
        "bucket_boundaries, bucket_counts, unit, start_timestamp, histogram_count, "
        "histogram_min, histogram_max FROM s CROSS JOIN bench_templates AS t"
    ),
    "duckdb": (
        "INSERT INTO obsstore_metrics (id, timestamp, name, type, value, labels, "
        "organization_id, environment, service_name, trace_id, span_id, bucket_boundaries, "
        "bucket_counts, unit, start_timestamp, histogram_count, histogram_min, histogram_max) "
        "SELECT 'p' || lpad(CAST(g AS VARCHAR), 7, '0') || '-' || t.id, "
        "t.timestamp + to_microseconds(CAST(g AS BIGINT) * :span_us), name, type, value, "
        "labels, organization_id, environment, service_name, trace_id, span_id, "
        "bucket_boundaries, bucket_counts, unit, start_timestamp, histogram_count, "
        "histogram_min, histogram_max "
        "FROM range(0, :copies) AS s(g) CROSS JOIN bench_templates AS t ORDER BY g, t.id"
    ),
    "postgresql": (
        "INSERT INTO obsstore_metrics (id, timestamp, name, type, value, labels, "
        "organization_id, environment, service_name, trace_id, span_id, bucket_boundaries, "
        "bucket_counts, unit, start_timestamp, histogram_count, histogram_min, histogram_max) "
        "SELECT 'p' || lpad(g::text, 7, '0') || '-' || t.id, "
        "t.timestamp + make_interval(secs => g * CAST(:span_us AS bigint) / 1e6), name, type, "
        "value, labels, organization_id, environment, service_name, trace_id, span_id, "
        "bucket_boundaries, bucket_counts, unit, start_timestamp, histogram_count, "
        "histogram_min, histogram_max "
        "FROM generate_series(0, :copies - 1) AS g CROSS JOIN bench_templates AS t "
        "ORDER BY g, t.id"
    ),
}
# The baseline: every request point of the window counted, hand-written.
COUNT = (
    "SELECT count(*), sum(value) FROM obsstore_metrics "
    "WHERE name = :name AND timestamp >= :start AND timestamp <= :end"
)


def templates(start: datetime, step: timedelta, seed: int = 12) -> list[MetricRecord]:
    """``TEMPLATES`` points ``step`` apart from ``start``: 90 % requests, 10 % operations, in
    the shape ``record_route`` / ``record_operation`` give them (one observation each)."""
    rng = random.Random(seed)
    records = []
    for k in range(TEMPLATES):
        seconds = rng.lognormvariate(-3.5, 1.0)
        if k % 10 == 9:
            name = OPERATION_METRIC
            labels = {OPERATION_LABEL: rng.choice(OPERATIONS)}
            if rng.random() < 0.03:
                labels[ERROR_LABEL] = "_OTHER"
        else:
            name = ROUTE_METRIC
            status = rng.choices([200, 201, 404, 500, 503], [85, 5, 6, 3, 1])[0]
            labels = {
                ROUTE_LABEL: rng.choice(ROUTES),
                METHOD_LABEL: rng.choice(METHODS),
                STATUS_LABEL: str(status),
            }
            if status >= 500:
                labels[ERROR_LABEL] = str(status)
        records.append(
            duration_point(
                name,
                labels,
                seconds,
                service_name="api",
                timestamp=start + k * step,
                id=f"t{k:04d}",
            )
        )
    return records


def _secondary_indexes(connection: sa.Connection) -> list[tuple[str, str]]:
    rows = connection.execute(
        sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'obsstore_metrics' "
            "AND indexname <> 'pk_obsstore_metrics'"
        )
    )
    return [(row[0], row[1]) for row in rows]


def generate(storage: Any, points: int, days: float) -> float:
    """Fill the freshly migrated ``storage`` with ``points`` points; returns the seconds taken."""
    assert points % TEMPLATES == 0, f"--sizes must be multiples of {TEMPLATES}"
    copies = points // TEMPLATES
    span_us = days * 86_400_000_000 // copies  # one copy's time span, whole microseconds
    step = timedelta(microseconds=span_us / TEMPLATES)
    end = utc_now() + timedelta(hours=1)
    start = end - timedelta(microseconds=span_us * copies)
    started = time.perf_counter()
    storage.batch_record_metrics(templates(start, step))
    engine = storage.engine
    dialect = engine.dialect.name
    with engine.begin() as connection:
        connection.execute(
            sa.text("CREATE TABLE bench_templates AS SELECT * FROM obsstore_metrics")
        )
        connection.execute(sa.text("DELETE FROM obsstore_metrics"))
        indexes = _secondary_indexes(connection) if dialect == "postgresql" else []
        for name, _ in indexes:
            connection.execute(sa.schema.DropIndex(sa.Index(name)))
        connection.execute(sa.text(COPY[dialect]), {"copies": copies, "span_us": span_us})
        for _, definition in indexes:
            connection.execute(sa.text(definition))
        connection.execute(sa.text("DROP TABLE bench_templates"))
    if dialect != "duckdb":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE"))
    return time.perf_counter() - started


def refresh(storage: Any) -> Any:
    """One dashboard refresh, as ``obsstore dashboard --since 1h`` does it."""
    window, step = _window(SINCE, None)
    return take_snapshot(storage, window, step)


def count_window(storage: Any) -> tuple[int, float]:
    window, _ = _window(SINCE, None)
    end = utc_now()
    params = [
        sa.bindparam("name", ROUTE_METRIC),
        sa.bindparam("start", end - window, type_=UTCTimestamp()),
        sa.bindparam("end", end, type_=UTCTimestamp()),
    ]
    with storage.engine.connect() as connection:
        row = connection.execute(sa.text(COUNT).bindparams(*params)).one()
    return int(row[0]), float(row[1] or 0.0)


def _times(action: Any, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def captured_statements(storage: Any) -> list[tuple[str, Any]]:
    """The queries (and driver parameters) one refresh sends, as the driver received them
    (transaction control left out; the pool resets the connection afterwards)."""
    sent: list[tuple[str, Any]] = []

    def capture(*arguments: Any) -> None:
        statement = arguments[2]
        if statement.lstrip()[:6].upper() in ("SELECT", "WITH R", "WITH "):  # not BEGIN etc.
            sent.append((statement, arguments[3]))

    sa.event.listen(storage.engine, "before_cursor_execute", capture)
    try:
        refresh(storage)
    finally:
        sa.event.remove(storage.engine, "before_cursor_execute", capture)
    return sent


def replay(storage: Any, statements: list[tuple[str, Any]]) -> None:
    """The refresh's own SQL sent again through the raw driver, every row fetched: what the
    database alone costs (no SQLAlchemy, no models, no Python arithmetic)."""
    connection = storage.engine.raw_connection()
    try:
        cursor = connection.cursor()
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            cursor.fetchall()
    finally:
        connection.close()


def measure(storage: Any, repeats: int) -> dict[str, Any]:
    snapshot = refresh(storage)  # warm: caches and compiled statements
    # The generated points are in the shape the dashboard reads: every panel has rows.
    assert snapshot.busiest and snapshot.slowest and snapshot.operations, "empty panels"
    assert snapshot.p95_ms is not None, "no percentiles"
    statements = captured_statements(storage)
    counted, _ = count_window(storage)
    refresh_times, sql_times, count_times = [], [], []
    for _ in range(repeats):  # interleaved, so all three see the same load
        refresh_times += _times(lambda: refresh(storage), 1)
        sql_times += _times(lambda: replay(storage, statements), 1)
        count_times += _times(lambda: count_window(storage), 1)
    return {
        "refresh": statistics.median(refresh_times),
        "sql": statistics.median(sql_times),
        "count": statistics.median(count_times),
        "refresh_times": refresh_times,
        "statements": len(statements),
        "window_requests": snapshot.requests,
        "window_points": counted,
        "routes": len(snapshot.busiest),
        "operations": len(snapshot.operations),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--backends", default="sqlite,duckdb,postgresql")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--no-control",
        dest="control",
        action="store_false",
        help="skip the control store: the largest size over proportionally more days",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    stores = [(points, args.days) for points in sizes]
    if args.control and len(sizes) > 1:
        stores.append((max(sizes), args.days * max(sizes) // min(sizes)))
    results: dict[str, list[dict[str, Any]]] = {}
    server = None
    try:
        for kind in filter(None, args.backends.split(",")):
            if places.is_server(kind) and server is None:
                server = find_server()
                if server is None:
                    print(f"{kind}: no PostgreSQL server, skipped", file=sys.stderr)
                    continue
            for points, days in stores:
                with (
                    tempfile.TemporaryDirectory(prefix="obsstore-dash-") as folder,
                    ExitStack() as stack,
                ):
                    if places.is_server(kind):
                        assert server is not None
                        url = stack.enter_context(scratch_database(server[0]))
                    else:
                        url = places.file_url(kind, folder, "dashboard")
                    with create_storage(url) as storage:
                        storage.init()
                        log(f"{kind}: generating {points:,} points over {days} days")
                        seconds = generate(storage, points, days)
                        log(f"{kind}: generated in {seconds:.0f} s; measuring")
                        row = measure(storage, args.repeats)
                        row |= {"points": points, "days": days, "generate": seconds}
                        results.setdefault(kind, []).append(row)
                        log(f"{kind}: {row}")
    finally:
        if server is not None and server[1] is not None:
            server[1]()
    print(table(results, args))
    return 0


def log(message: str) -> None:
    print(f"[bench.dashboard {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def table(results: dict[str, list[dict[str, Any]]], args: Any) -> str:
    lines = [
        f"One `obsstore dashboard --since {SINCE}` refresh (`take_snapshot`), median of "
        f"{args.repeats}. Baselines in the same run: the refresh's own statements replayed "
        "through the raw driver (database time alone), and a hand-written `count(*), "
        "sum(value)` of the window's request points. Ratios: against the first store.\n",
        "| backend | points | over | window points | generate (s) | refresh (s) "
        "| its SQL raw (s) | count(*) (s) | refresh ratio | SQL ratio | count ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, rows in results.items():
        first = rows[0]
        for r in rows:
            ratios = [r[key] / first[key] for key in ("refresh", "sql", "count")]
            lines.append(
                f"| {kind} | {r['points']:,} | {r['days']} d | {r['window_points']:,} "
                f"| {r['generate']:.0f} | {r['refresh']:.3f} | {r['sql']:.3f} "
                f"| {r['count']:.4f} | {ratios[0]:.2f} | {ratios[1]:.2f} | {ratios[2]:.2f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
