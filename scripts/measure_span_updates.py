"""How long span updates take on each SQL backend: one update in a 20,000-span trace, then
40,000 updates in one batch. A measurement to run by hand, not a test:

    .venv/bin/python scripts/measure_span_updates.py [sqlite duckdb postgresql]

PostgreSQL uses a scratch database on the server the tests use (127.0.0.1:5432)."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from obsstore import SpanRecord, SpanUpdate, create_storage

T0 = datetime(2024, 6, 1, tzinfo=timezone.utc)
TRACE_SPANS = 20_000
PAYLOAD = {"messages": [{"role": "user", "content": "x" * 400}], "n": 1}


@contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    if backend == "postgresql":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from devtools.postgres import find_server, scratch_database

        server = find_server()
        assert server is not None, "no PostgreSQL server"
        with scratch_database(server.url) as url:
            yield url
    else:
        yield f"{backend}:///{directory / ('spans.' + backend)}"


def spans(trace: str) -> list[SpanRecord]:
    return [
        SpanRecord(
            trace_id=trace,
            span_id=f"s{i:05d}",
            parent_span_id=None if i == 0 else "s00000",
            name="step",
            started_at=T0 + timedelta(milliseconds=i),
            input=PAYLOAD,
            output=PAYLOAD,
        )
        for i in range(TRACE_SPANS)
    ]


def measure(backend: str) -> None:
    with tempfile.TemporaryDirectory() as directory, database(backend, Path(directory)) as url:
        with create_storage(url) as storage:
            storage.init()
            storage.batch_create_spans(spans("big"))
            storage.batch_create_spans(spans("other"))
            single = []
            for i in range(5):
                update = SpanUpdate(
                    trace_id="big", span_id=f"s{i * 997:05d}", ended_at=T0 + timedelta(1)
                )
                start = time.perf_counter()
                storage.batch_update_spans([update])
                single.append(time.perf_counter() - start)
            updates = [
                SpanUpdate(trace_id=trace, span_id=f"s{i:05d}", ended_at=T0 + timedelta(2))
                for trace in ("big", "other")
                for i in range(TRACE_SPANS)
            ]
            start = time.perf_counter()
            assert storage.batch_update_spans(updates) == 2 * TRACE_SPANS
            batch = time.perf_counter() - start
            span = storage.get_span("other", "s19999")
            assert span is not None and span.ended_at == T0 + timedelta(2)
    print(
        f"{backend:10} one update in a {TRACE_SPANS}-span trace: "
        f"{statistics.median(single) * 1000:8.1f} ms (median of 5); "
        f"{len(updates)} updates in one batch: {batch:7.2f} s",
        flush=True,
    )


if __name__ == "__main__":
    for name in sys.argv[1:] or ["sqlite", "duckdb", "postgresql"]:
        measure(name)
