"""The dashboard query rows: the same stored points in every backend, each query run through
obsstore and through hand-written SQL on the same driver, interleaved, and both answers
checked against each other (and against the memory reference)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timezone
from typing import Any

import sqlalchemy as sa

from bench import workload
from bench.baselines.common import EPOCH, ONE_US, PAGE_LIMIT
from bench.timing import interleaved, median
from obsstore import Aggregation, MetricFilters, MetricsStorage, OrderBy, Pagination

NAME, ROUTE, START, END = workload.PANEL_NAME, workload.PANEL_ROUTE, workload.START, workload.END
PANEL = MetricFilters(name=NAME, start_time=START, end_time=END)
WHOLE_WEEK = MetricFilters(start_time=START, end_time=END)

QUERY_ROWS: dict[str, str] = {
    "list_page": "list_metrics: first page (100) by name + one label, newest first, with total",
    "avg_by_route": "aggregate avg, 1 h buckets, by route; one metric name over the 7 days (a dashboard panel)",
    "avg_by_service": "aggregate avg, 1 h buckets, by service; every point over the 7 days",
    "p95_by_service": "aggregate p95 (percentile) by service; every point over the 7 days",
}


def obsstore_calls(storage: MetricsStorage) -> dict[str, Callable[[], Any]]:
    page, newest = Pagination(limit=PAGE_LIMIT), OrderBy(field="timestamp", direction="desc")
    listed = MetricFilters(name=NAME, labels={"route": ROUTE})
    by_route = Aggregation(type="avg", interval="1h", group_by=["route"])
    by_service = Aggregation(type="avg", interval="1h", group_by=["service_name"])
    p95 = Aggregation(type="percentile", percentile=0.95, group_by=["service_name"])
    return {
        "list_page": lambda: storage.list_metrics(listed, page, newest),
        "avg_by_route": lambda: storage.aggregate_metrics(by_route, PANEL),
        "avg_by_service": lambda: storage.aggregate_metrics(by_service, WHOLE_WEEK),
        "p95_by_service": lambda: storage.aggregate_metrics(p95, WHOLE_WEEK),
    }


def baseline_calls(queries: Any) -> dict[str, Callable[[], Any]]:
    return {
        "list_page": lambda: queries.list_page(NAME, ROUTE),
        "avg_by_route": lambda: queries.avg_by_route(NAME, START, END),
        "avg_by_service": lambda: queries.avg_by_service(START, END),
        "p95_by_service": lambda: queries.p95_by_service(START, END),
    }


# --- answers in one comparable shape ----------------------------------------------------------


def _us(value: Any) -> int | None:
    if value is None or isinstance(value, int):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - EPOCH) // ONE_US


def normalise_obsstore(row: str, answer: Any) -> Any:
    if row == "list_page":
        return [r.id for r in answer.data], answer.total
    return sorted(
        (p.name, _us(p.timestamp), tuple(p.group.values()), p.value, p.count) for p in answer
    )


def normalise_baseline(row: str, answer: Any) -> Any:
    if row == "list_page":
        rows, total = answer
        return [r[0] for r in rows], int(total)
    if row == "p95_by_service":
        return sorted((r[0], None, (r[1],), float(r[2]), int(r[3])) for r in answer)
    return sorted((r[0], _us(r[1]), (r[2],), float(r[3]), int(r[4])) for r in answer)


def same_answer(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(a[0], list):  # a page: ids in order and total
        return bool(a == b)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x[:3] != y[:3] or x[4] != y[4] or not math.isclose(x[3], y[3], rel_tol=1e-9):
            return False
    return True


def run(storage: MetricsStorage, queries: Any, repeats: int) -> dict[str, dict[str, Any]]:
    """Median seconds of obsstore and of the baseline (None for the memory backend) per row,
    and whether the two answered alike."""
    ours = obsstore_calls(storage)
    theirs = baseline_calls(queries) if queries is not None else {}
    results: dict[str, dict[str, Any]] = {}
    for row in QUERY_ROWS:
        contenders = {"obsstore": ours[row]}
        if row in theirs:
            contenders["baseline"] = theirs[row]
        times, answers = interleaved(contenders, repeats)
        mine = normalise_obsstore(row, answers["obsstore"])
        entry: dict[str, Any] = {
            "obsstore_s": median(times["obsstore"]),
            "obsstore_all_s": times["obsstore"],
            "answer": mine,
        }
        if "baseline" in times:
            entry["baseline_s"] = median(times["baseline"])
            entry["baseline_all_s"] = times["baseline"]
            entry["same_answer"] = same_answer(mine, normalise_baseline(row, answers["baseline"]))
        results[row] = entry
    return results


def analyze(storage: MetricsStorage) -> None:
    """Fresh planner statistics after the bulk load (autovacuum would get there on its own on
    PostgreSQL; SQLite's ``PRAGMA optimize`` does the same), so plans do not depend on timing."""
    engine = getattr(storage, "engine", None)
    if engine is not None and engine.dialect.name in ("postgresql", "sqlite"):
        with engine.begin() as connection:
            connection.execute(sa.text("ANALYZE"))
