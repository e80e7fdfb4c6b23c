"""obsstore.routes on every backend: requests recorded with record_route / record_operation
(through a storage or a MetricsWriter) summed per aligned period, route and method."""

from __future__ import annotations

from datetime import timedelta

import pytest

from obsstore import InvalidArgumentError, MetricFilters, MetricsWriter, ObservabilityStorage
from obsstore.routes import (
    OPERATION_METRIC,
    ROUTE_METRIC,
    OperationMetrics,
    RouteMetrics,
    operation_metrics,
    record_operation,
    record_route,
    route_metrics,
)
from obsstore.routes.recording import DURATION_BOUNDARIES
from tests.contract.helpers import T0, point

HOUR = timedelta(hours=1)


def restamp(storage: ObservabilityStorage, name: str) -> None:
    """Re-stamp the recorded points (recording uses the current time): those of service "api"
    at T0 + 1h, the others at T0."""
    records = storage.list_metrics({"name": name}, {"limit": 1000}).data
    storage.delete_metrics({"name": name})
    storage.batch_record_metrics(
        [
            r.model_copy(update={"timestamp": T0 + (HOUR if r.service_name == "api" else 0 * HOUR)})
            for r in records
        ]
    )


def test_route_metrics_per_period_route_and_method(storage: ObservabilityStorage) -> None:
    record_route(storage, "/items", "GET", True, 20.0, status_code=200)
    record_route(storage, "/items", "get", True, 40.0, status_code=200)
    record_route(storage, "/items", "GET", False, 3000.0, status_code=503)
    record_route(storage, "/items", "POST", False, 10.0)
    record_route(storage, "/items", "GET", True, 100.0, service_name="api")
    restamp(storage, ROUTE_METRIC)
    found = route_metrics(storage, period="1h")
    assert [(m.period_start, m.route, m.method) for m in found] == [
        (T0, "/items", "GET"),
        (T0, "/items", "POST"),
        (T0 + HOUR, "/items", "GET"),
    ]
    get = found[0]
    assert isinstance(get, RouteMetrics) and get.period_end == T0 + HOUR
    assert (get.total_requests, get.successful, get.failed) == (3, 2, 1)
    assert get.total_duration_ms == pytest.approx(3060.0)
    assert get.avg_duration_ms == pytest.approx(1020.0)
    assert get.last_request_time == T0
    assert get.success_rate == pytest.approx(2 / 3)
    # 3 observations: 20 ms in (0.01, 0.025], 40 ms in (0.025, 0.05], 3 s in (2.5, 5]; the 95th
    # and 99th percentiles fall in the last (2.5 s + 85 % or 97 % of its width), clamped to
    # the greatest observation (3 s).
    assert get.p95_duration_ms == pytest.approx(3000.0)
    assert get.p99_duration_ms == pytest.approx(3000.0)
    # The median: rank 1.5 of 3, half way through (0.025, 0.05].
    assert quantile_ms(storage, 0.5) == pytest.approx(37.5)
    post = found[1]
    assert (post.total_requests, post.successful, post.failed) == (1, 0, 1)
    assert post.p95_duration_ms == pytest.approx(10.0)  # one observation: itself
    assert route_metrics(storage, method="post") == [post]
    assert route_metrics(storage, "/other") == []
    later = route_metrics(storage, start_time=T0 + HOUR, period=timedelta(minutes=30))
    assert [(m.period_start, m.period_end) for m in later] == [
        (T0 + HOUR, T0 + HOUR + timedelta(minutes=30))
    ]


def quantile_ms(storage: ObservabilityStorage, fraction: float) -> float | None:
    from obsstore.storage.histograms import HistogramQuery, quantile

    query = HistogramQuery(
        filters=MetricFilters(
            name=ROUTE_METRIC,
            labels={"http.request.method": "GET"},
            start_time=T0,
            end_time=T0 + HOUR - timedelta(microseconds=1),
        ),
        keys=(),
        period=HOUR,
    )
    bins = storage._histogram_bins(query)
    value = quantile(fraction, bins, 0.02, 3.0)
    return None if value is None else value * 1000


def test_points_are_opentelemetry_histograms(storage: ObservabilityStorage) -> None:
    record_route(storage, "/a/{id}", "BREW", False, 7.5, status_code=418)
    (stored,) = storage.list_metrics({"name": ROUTE_METRIC}).data
    assert stored.type.value == "histogram" and stored.unit == "s"
    assert stored.value == pytest.approx(0.0075)
    assert stored.labels == {
        "http.route": "/a/{id}",
        "http.request.method": "_OTHER",
        "http.response.status_code": "418",
        "error.type": "418",
    }
    assert stored.bucket_boundaries == DURATION_BOUNDARIES
    assert stored.bucket_counts is not None and stored.bucket_counts[1] == 1
    assert stored.histogram_count == 1


def test_operations_through_a_writer(storage: ObservabilityStorage) -> None:
    with MetricsWriter(storage) as writer:
        record_operation(writer, "reindex", True, 1500.0)
        record_operation(writer, "reindex", False, 500.0)
        record_operation(writer, "backup", True, 10.0)
    found = operation_metrics(storage)
    assert [type(m) for m in found] == [OperationMetrics, OperationMetrics]
    assert [(m.operation, m.total_requests, m.failed) for m in found] == [
        ("backup", 1, 0),
        ("reindex", 2, 1),
    ]
    assert found[1].avg_duration_ms == pytest.approx(1000.0)
    assert operation_metrics(storage, "backup")[0].total_duration_ms == pytest.approx(10.0)
    assert storage.list_metric_names() == [OPERATION_METRIC]


def test_points_without_buckets_still_count(storage: ObservabilityStorage) -> None:
    # A histogram point with a count but no buckets: requests and durations, no percentiles.
    storage.batch_record_metrics(
        [
            point(
                "h",
                name=ROUTE_METRIC,
                type="histogram",
                value=2.0,
                histogram_count=4,
                labels={"http.route": "/x", "http.request.method": "GET"},
            )
        ]
    )
    (found,) = route_metrics(storage)
    assert (found.total_requests, found.avg_duration_ms) == (4, 500.0)
    assert found.p95_duration_ms is None


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: record_route(s, "", "GET", True, 1.0), "route"),
        (lambda s: record_route(s, "/a", "GET", True, -1.0), "duration_ms"),
        (lambda s: record_route(s, "/a", "GET", True, float("nan")), "duration_ms"),
        (lambda s: record_route(s, "/a", "GET", True, 1.0, status_code=500), "success"),
        (lambda s: record_route(s, "/a", "GET", 1, 1.0), "success"),  # type: ignore[arg-type]
        (lambda s: record_route(s, "/a", "GET", True, 1.0, status_code=99), "status_code"),
        (lambda s: record_route(object(), "/a", "GET", True, 1.0), "target"),  # type: ignore[arg-type]
        (lambda s: route_metrics(s, period="1x"), "period"),
        (lambda s: operation_metrics(s, period=None), "period"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_name_the_field(
    storage: ObservabilityStorage, call: object, field: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=field):
        call(storage)  # type: ignore[operator]
    assert storage.count_metrics() == 0
