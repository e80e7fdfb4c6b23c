"""The OpenTelemetry fields of MetricRecord are checked at the call, on every backend: a
batch with one bad point stores nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from obsstore import MetricsStorage
from tests.contract.helpers import T0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start_timestamp": T0 + timedelta(seconds=1)}, "start_timestamp is after timestamp"),
        ({"type": "gauge", "histogram_count": 3}, "only allowed on histograms"),
        ({"type": "counter", "histogram_min": 1.0}, "only allowed on histograms"),
        ({"type": "histogram", "histogram_min": 2.0, "histogram_max": 1.0}, "greater than"),
        ({"type": "histogram", "histogram_count": -1}, "greater than or equal to 0"),
        ({"type": "histogram", "histogram_max": float("nan")}, "finite"),
        ({"unit": "x" * 256}, "at most 255"),
        ({"unit": "m\x00s"}, "control characters"),
    ],
)
def test_bad_opentelemetry_fields_are_refused_and_nothing_is_stored(
    storage: MetricsStorage, fields: dict[str, Any], message: str
) -> None:
    good = {"id": "ok", "name": "m", "value": 1.0, "timestamp": T0}
    bad = {**good, "id": "bad", **fields}
    with pytest.raises(ValidationError, match=message):
        storage.batch_record_metrics([good, bad])
    assert storage.count_metrics() == 0


def test_start_timestamp_may_equal_timestamp(storage: MetricsStorage) -> None:
    assert (
        storage.batch_record_metrics(
            [{"id": "a", "name": "m", "value": 1.0, "timestamp": T0, "start_timestamp": T0}]
        )
        == 1
    )
    (point,) = storage.iter_metrics()
    assert point.start_timestamp == point.timestamp == T0
