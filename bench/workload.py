"""The generated workload: one seed, so every backend and every baseline sees the same points.

Points are spread over 7 days in time order (as an agent would send them), across 20 metric
names (gauges, counters and histograms), 3 services and 50 routes x 4 methods as labels. Ids
are time-ordered UUIDv7 strings, like the ones obsstore generates."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from obsstore import MetricRecord

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
SPAN = timedelta(days=7)
END = START + SPAN
SERVICES = ("api", "billing", "worker")
METHODS = ("GET", "POST", "PUT", "DELETE")
_RESOURCES = (
    "items",
    "orders",
    "users",
    "carts",
    "invoices",
    "payments",
    "search",
    "jobs",
    "files",
    "tokens",
)
_ACTIONS = ("", "/{id}", "/{id}/history", "/bulk", "/export")
ROUTES = tuple(f"/v1/{r}{a}" for r in _RESOURCES for a in _ACTIONS)  # 50
STATUSES = ("200", "200", "200", "200", "201", "404", "500")
BOUNDS = [5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0]
_KINDS = ("gauge", "counter", "histogram")
NAMES = tuple(
    (f"{area}.{what}", _KINDS[i % 3])
    for i, (area, what) in enumerate(
        (area, what)
        for area in ("http.server", "http.client", "db.client", "queue")
        for what in ("duration", "requests", "size", "errors", "inflight")
    )
)  # 20 (name, type) pairs
# The dashboard queries look at these.
PANEL_NAME = "http.server.duration"
PANEL_ROUTE = ROUTES[7]

assert len(ROUTES) == 50 and len(NAMES) == 20


def _uuid7(unix_ms: int, rng: random.Random) -> str:
    rand = rng.getrandbits(74)
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64
    value |= 0b10 << 62 | rand & 0x3FFF_FFFF_FFFF_FFFF
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def point_dicts(count: int, seed: int = 6) -> Iterator[dict[str, Any]]:
    """``count`` points as plain dicts (what a caller without obsstore's models sends)."""
    rng = random.Random(seed)
    span_us = SPAN // timedelta(microseconds=1)
    step = span_us / count
    start_ms = int(START.timestamp() * 1000)
    for i in range(count):
        offset_us = int(i * step + rng.random() * step)
        name, kind = NAMES[rng.randrange(20)]
        point: dict[str, Any] = {
            "id": _uuid7(start_ms + offset_us // 1000, rng),
            "timestamp": START + timedelta(microseconds=offset_us),
            "name": name,
            "type": kind,
            "labels": {
                "route": ROUTES[rng.randrange(50)],
                "method": METHODS[rng.randrange(4)],
                "status": STATUSES[rng.randrange(7)],
            },
            "environment": "prod",
            "service_name": SERVICES[rng.randrange(3)],
        }
        if kind == "histogram":
            counts = [rng.randrange(50) for _ in range(len(BOUNDS) + 1)]
            point["bucket_boundaries"] = BOUNDS
            point["bucket_counts"] = counts
            point["value"] = round(rng.random() * 100 * sum(counts), 3)
        elif kind == "counter":
            point["value"] = float(rng.randrange(1, 1000))
        else:
            point["value"] = round(rng.lognormvariate(3.0, 0.8), 4)
        yield point


def records(dicts: list[dict[str, Any]]) -> list[MetricRecord]:
    """Validated records, built the ordinary way (``MetricRecord(**fields)``)."""
    return [MetricRecord(**d) for d in dicts]


def chunks(count: int, size: int, seed: int = 6) -> Iterator[list[MetricRecord]]:
    """The same points as ``point_dicts(count)``, as records, ``size`` at a time."""
    batch: list[dict[str, Any]] = []
    for point in point_dicts(count, seed):
        batch.append(point)
        if len(batch) == size:
            yield records(batch)
            batch = []
    if batch:
        yield records(batch)
