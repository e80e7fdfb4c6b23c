"""Stored series for Prometheus to scrape (``pip install 'obsstore[prometheus]'``).

```python
from prometheus_client import CollectorRegistry, start_http_server
from obsstore.prometheus import ObsstoreCollector

registry = CollectorRegistry()
registry.register(ObsstoreCollector(storage))
start_http_server(9464, registry=registry)
```

Each scrape reads the matching points (a keyset cursor, one batch in memory) and exposes the
current state of every series: a counter as its total (every stored delta added up), a gauge
as its last value, a histogram as cumulative buckets with ``_sum`` and ``_count``. Names and
labels follow OpenTelemetry's Prometheus compatibility rules (``obsstore.export.
prometheus_names``); the service becomes the ``job`` label. Scrapes read every matching point,
so give ``filters`` (e.g. a recent ``start_time`` window is not right for counter totals, but
names or a service are) on very large stores."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from obsstore.export.prometheus_names import label_set, metric_name
from obsstore.models import MetricFilters, MetricRecord, MetricType
from obsstore.storage.arguments import as_model, check_batch_size
from obsstore.storage.base import ObservabilityStorage

_KINDS = {
    MetricType.COUNTER: "counter",
    MetricType.GAUGE: "gauge",
    MetricType.HISTOGRAM: "histogram",
}


@dataclass
class _Histogram:
    bounds: tuple[float, ...] = ()
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0


@dataclass
class _Family:
    name: str
    kind: MetricType
    documentation: str
    # series labels -> total (counter), last (timestamp, id, value) (gauge), or _Histogram
    series: dict[tuple[tuple[str, str], ...], Any] = field(default_factory=dict)


class ObsstoreCollector(Collector):
    """A prometheus_client ``Collector`` over an obsstore storage (see the module doc)."""

    def __init__(
        self,
        storage: ObservabilityStorage,
        filters: MetricFilters | Mapping[str, Any] | None = None,
        batch_size: int = 10_000,
    ) -> None:
        self.storage = storage
        self.filters = as_model(filters, MetricFilters)
        self.batch_size = check_batch_size(batch_size)

    def describe(self) -> list[Metric]:
        # No description up front: registering must not read the storage.
        return []

    def collect(self) -> Iterator[Metric]:
        families = fold(self.storage.iter_metrics(self.filters, batch_size=self.batch_size))
        for family in families.values():
            yield _metric(family)


def fold(points: Iterator[MetricRecord]) -> dict[tuple[str, MetricType], _Family]:
    """The current state of every series of ``points`` (in timestamp order)."""
    families: dict[tuple[str, MetricType], _Family] = {}
    names: dict[str, MetricType] = {}
    for record in points:
        key = (record.name, record.type)
        family = families.get(key)
        if family is None:
            name = metric_name(record.name, record.unit, gauge=record.type is MetricType.GAUGE)
            if name in names:  # another type took the name: keep both apart
                name = f"{name}_{record.type.value}"
            names[name] = record.type
            unit = f" ({record.unit})" if record.unit else ""
            family = families[key] = _Family(
                name, record.type, f"obsstore metric {record.name}{unit}"
            )
        labels = tuple(label_set(record.labels, record.service_name, record.environment).items())
        _UPDATE[record.type](family.series, labels, record)
    return families


def _add_counter(series: dict[Any, Any], labels: Any, record: MetricRecord) -> None:
    series[labels] = series.get(labels, 0.0) + record.value


def _set_gauge(series: dict[Any, Any], labels: Any, record: MetricRecord) -> None:
    last = series.get(labels)
    if last is None or (record.timestamp, record.id) >= last[:2]:
        series[labels] = (record.timestamp, record.id, record.value)


def _add_histogram(series: dict[Any, Any], labels: Any, record: MetricRecord) -> None:
    state: _Histogram = series.setdefault(labels, _Histogram())
    bounds = tuple(record.bucket_boundaries or ())
    counts = record.bucket_counts or []
    if bounds != state.bounds or len(state.counts) != len(counts):
        # New bucket layout: buckets count from here (sum and count keep adding up).
        state.bounds, state.counts = bounds, [0] * len(counts)
    state.counts = [a + b for a, b in zip(state.counts, counts, strict=True)]
    state.total += record.value
    state.count += record.histogram_count if record.histogram_count is not None else sum(counts)


_UPDATE: dict[MetricType, Callable[[dict[Any, Any], Any, MetricRecord], None]] = {
    MetricType.COUNTER: _add_counter,
    MetricType.GAUGE: _set_gauge,
    MetricType.HISTOGRAM: _add_histogram,
}


def _le(bound: float) -> str:
    from prometheus_client.utils import floatToGoString

    return str(floatToGoString(bound))  # type: ignore[no-untyped-call]


def _metric(family: _Family) -> Metric:
    metric = Metric(family.name, family.documentation, _KINDS[family.kind])
    for labels, state in family.series.items():
        values = dict(labels)
        if family.kind is MetricType.COUNTER:
            metric.add_sample(family.name + "_total", values, state)
        elif family.kind is MetricType.GAUGE:
            metric.add_sample(family.name, values, state[2])
        else:
            running = 0
            for bound, count in zip(state.bounds, state.counts, strict=False):
                running += count
                metric.add_sample(family.name + "_bucket", {**values, "le": _le(bound)}, running)
            count = max(state.count, running)
            metric.add_sample(family.name + "_bucket", {**values, "le": "+Inf"}, count)
            metric.add_sample(family.name + "_count", values, count)
            metric.add_sample(family.name + "_sum", values, state.total)
    return metric


def serve(storage: ObservabilityStorage, port: int = 9464, host: str = "0.0.0.0") -> Any:
    """Serve ``/metrics`` for scraping on a background thread (prometheus_client's own HTTP
    server); returns the server and its thread."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ObsstoreCollector(storage))
    return start_http_server(port, addr=host, registry=registry)


def main_serve(url: str | None, port: int, host: str) -> int:
    """``obsstore serve prometheus``: serve until interrupted; the exit code."""
    import threading

    from obsstore import create_storage

    storage = create_storage(url)
    with storage:
        storage.init()
        server, _thread = serve(storage, port, host)
        print(
            f"obsstore: serving Prometheus metrics on http://{host}:{port}/metrics", file=sys.stderr
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
    return 0


__all__ = ["ObsstoreCollector", "serve"]
