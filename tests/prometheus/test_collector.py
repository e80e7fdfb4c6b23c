"""ObsstoreCollector on every backend, read by prometheus_client's own parsers (text format
and OpenMetrics) and checked by ``promtool check metrics``."""

from __future__ import annotations

import subprocess
import urllib.request
from collections import defaultdict
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from obsstore import ObservabilityStorage
from obsstore.models import MetricRecord
from obsstore.prometheus import ObsstoreCollector, serve
from tests.contract.helpers import T0
from tests.export.data import sample_points
from tests.export.test_promtool import promtool_path


def _registry(storage: ObservabilityStorage, **kwargs: Any) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ObsstoreCollector(storage, **kwargs))
    return registry


def _key(labels: dict[str, str]) -> tuple[str, str]:
    return (labels["route"], labels["job"])


def _expected(storage: ObservabilityStorage) -> dict[str, dict[tuple[str, str], Any]]:
    """What the exposition must say, folded here independently from the stored points."""
    counters: dict[tuple[str, str], float] = defaultdict(float)
    gauges: dict[tuple[str, str], Any] = {}
    histograms: dict[tuple[str, str], list[Any]] = {}
    for p in storage.iter_metrics():
        key = (p.labels["route"], p.service_name or "")
        if p.type.value == "counter":
            counters[key] += p.value
        elif p.type.value == "gauge":
            gauges[key] = p.value  # iter_metrics is in time order: the last one wins
        else:
            h = histograms.setdefault(key, [0.0, 0, [0] * len(p.bucket_counts or [])])
            h[0] += p.value
            h[1] += p.histogram_count
            h[2] = [a + b for a, b in zip(h[2], p.bucket_counts or [], strict=True)]
    return {"counter": counters, "gauge": gauges, "histogram": histograms}


def _check(families: dict[str, Any], expected: dict[str, dict[Any, Any]]) -> None:
    assert families["http_requests"].type == "counter"
    got_counters = {
        _key(s.labels): s.value
        for s in families["http_requests"].samples
        if s.name == "http_requests_total"
    }
    assert got_counters == expected["counter"]
    got_gauges = {_key(s.labels): s.value for s in families["queue_depth"].samples}
    assert got_gauges == expected["gauge"]
    histogram = families["http_duration_milliseconds"]
    assert histogram.type == "histogram"
    sums = {_key(s.labels): s.value for s in histogram.samples if s.name.endswith("_sum")}
    counts = {_key(s.labels): s.value for s in histogram.samples if s.name.endswith("_count")}
    buckets: dict[Any, list[float]] = defaultdict(list)
    for s in histogram.samples:
        if s.name.endswith("_bucket"):
            buckets[_key(s.labels)].append(s.value)
    for key, (total, count, per_bucket) in expected["histogram"].items():
        assert sums[key] == total and counts[key] == count
        cumulative = [sum(per_bucket[: i + 1]) for i in range(len(per_bucket) - 1)]
        assert buckets[key] == [*cumulative, count]
    assert all(s.labels["environment"] == "prod" for f in families.values() for s in f.samples)


def test_text_exposition_holds_the_current_state_of_every_series(
    storage: ObservabilityStorage,
) -> None:
    storage.batch_record_metrics(sample_points())
    text = generate_latest(_registry(storage)).decode()
    _check({f.name: f for f in parse_text(text)}, _expected(storage))


def test_openmetrics_exposition_parses(storage: ObservabilityStorage) -> None:
    storage.batch_record_metrics(sample_points())
    text = generate_openmetrics(_registry(storage)).decode()
    _check({f.name: f for f in parse_openmetrics(text)}, _expected(storage))


def test_names_and_labels_are_sanitised(storage: ObservabilityStorage) -> None:
    storage.batch_record_metrics(
        [
            MetricRecord(
                id="a",
                timestamp=T0,
                name="9lives.cpu-usage",
                type="gauge",
                value=0.5,
                unit="1",
                labels={"host.name": "h", "2xx": "y", "le": "z", "a.b": "1", "a_b": "2"},
            ),
            MetricRecord(
                id="b",
                timestamp=T0 + timedelta(seconds=1),
                name="rx",
                type="counter",
                value=3,
                unit="By/s",
            ),
        ]
    )
    families = {f.name: f for f in parse_text(generate_latest(_registry(storage)).decode())}
    (sample,) = families["_9lives_cpu_usage_ratio"].samples
    assert sample.labels == {"host_name": "h", "key_2xx": "y", "key_le": "z", "a_b": "1;2"}
    assert families["rx_bytes_per_second"].samples[0].name == "rx_bytes_per_second_total"


def test_promtool_check_metrics_accepts_the_exposition(storage: ObservabilityStorage) -> None:
    promtool = promtool_path()
    points = [
        MetricRecord(
            id=p.id,
            timestamp=p.timestamp,
            name=p.name,
            type=p.type,
            value=p.value,
            labels=p.labels,
            service_name=p.service_name,
            unit={"counter": None, "gauge": "By", "histogram": "s"}[p.type.value],
            bucket_boundaries=p.bucket_boundaries,
            bucket_counts=p.bucket_counts,
            histogram_count=p.histogram_count,
        )
        for p in sample_points()
    ]
    storage.batch_record_metrics(points)
    text = generate_latest(_registry(storage))
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=60
    )
    assert result.returncode == 0, (result.stdout + result.stderr).decode()


def test_serve_answers_scrapes(storage: ObservabilityStorage) -> None:
    storage.batch_record_metrics(sample_points(6))
    server, thread = serve(storage, port=0, host="127.0.0.1")
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            body = response.read().decode()
        assert "http_requests_total{" in body
    finally:
        server.shutdown()
        thread.join(5)
