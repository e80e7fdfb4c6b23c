"""Small builders shared by the contract tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from obsstore import MetricRecord, MetricsStorage

UTC = timezone.utc
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def point(
    id: str, *, at: datetime | None = None, minutes: float = 0, **fields: Any
) -> MetricRecord:
    fields.setdefault("name", "http.server.duration")
    fields.setdefault("value", 1.0)
    timestamp = at if at is not None else T0 + timedelta(minutes=minutes)
    return MetricRecord(id=id, timestamp=timestamp, **fields)


def all_ids(storage: MetricsStorage, **filters: Any) -> list[str]:
    page = storage.list_metrics(filters=filters or None, pagination={"limit": 10_000})
    return sorted(r.id for r in page.data)
