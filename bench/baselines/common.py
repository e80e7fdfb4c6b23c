"""Helpers the baselines share."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TypeVar

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_US = timedelta(microseconds=1)
HOUR_US = 3_600_000_000
PAGE_LIMIT = 100


# The same compact JSON text obsstore stores, so both sides write identical rows; one encoder
# for the process (json.dumps with options would build a new one per call).
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# The metric columns the baselines write (the OpenTelemetry columns of 0004 stay NULL, as
# they do for the workload's points in obsstore), in table order.
METRIC_COLUMNS = (
    "id", "timestamp", "name", "type", "value", "labels", "organization_id", "environment",
    "service_name", "trace_id", "span_id", "bucket_boundaries", "bucket_counts",
)  # fmt: skip

# The spans table's text columns after the JSON ones, in table order.
SPAN_TEXT_COLUMNS = (
    "entity_type", "entity_id", "entity_name", "user_id", "organization_id", "resource_id",
    "run_id", "session_id", "thread_id", "request_id", "environment", "service_name", "source",
)  # fmt: skip
SPAN_JSON_COLUMNS = ("input", "output", "error", "metadata", "attributes", "scope", "tags")
