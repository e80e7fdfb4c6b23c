"""Metrics and spans out to files and back in: JSON lines, CSV, Parquet, OpenMetrics and
OTLP/JSON, streamed (memory holds one batch), filtered, gzip where asked.

```python
from obsstore.export import export_metrics, export_traces, import_data, ExportStats
```"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import Any

from obsstore.errors import InvalidArgumentError
from obsstore.export import metric_formats, trace_formats
from obsstore.export.files import Target, open_input, open_output, wants_gzip
from obsstore.export.stats import ExportStats
from obsstore.models import MetricFilters, MetricRecord, SpanRecord, TraceFilters
from obsstore.storage.arguments import as_model, check_batch_size
from obsstore.storage.base import ObservabilityStorage

METRIC_FORMATS = ("jsonl", "csv", "parquet", "openmetrics")
TRACE_FORMATS = ("jsonl", "otlp-json")


def export_metrics(
    storage: ObservabilityStorage,
    out: Target,
    format: str = "jsonl",
    filters: MetricFilters | Mapping[str, Any] | None = None,
    compress: bool | None = None,
    batch_size: int = 10_000,
) -> ExportStats:
    """Write the points matching ``filters`` to ``out`` (a path or a binary file) in
    ``format``. ``compress``: None gzips when the path ends in ``.gz``; True or False force
    it (Parquet compresses inside the file and takes no gzip)."""
    if format not in METRIC_FORMATS:
        raise InvalidArgumentError(f"format must be one of {', '.join(METRIC_FORMATS)}")
    parsed = as_model(filters, MetricFilters)
    size = check_batch_size(batch_size)
    gzipped = wants_gzip(out, compress)
    if format == "parquet" and gzipped:
        raise InvalidArgumentError("parquet files compress internally: do not gzip them")
    started = time.perf_counter()
    stats = ExportStats()
    with open_output(out, gzipped=gzipped) as (stream, counting):
        if format == "openmetrics":
            stats.metrics = _write_openmetrics(storage, parsed, size, stream)
        else:
            points = storage.iter_metrics(parsed, batch_size=size)
            if format == "jsonl":
                stats.metrics = metric_formats.write_jsonl(points, stream)
            elif format == "csv":
                stats.metrics = metric_formats.write_csv(points, stream)
            else:
                stats.metrics = metric_formats.write_parquet(points, stream, size)
    stats.bytes = counting.count
    stats.seconds = time.perf_counter() - started
    return stats


def _write_openmetrics(
    storage: ObservabilityStorage, filters: MetricFilters, batch_size: int, stream: Any
) -> int:
    """One family per metric name and type (OpenMetrics keeps a family's samples together)."""
    writer = metric_formats.OpenMetricsWriter(stream)
    count = 0
    try:
        wanted = set(filters.names) if filters.names is not None else None
        for name in storage.list_metric_names():
            if wanted is not None and name not in wanted:
                continue
            for kind in filters.types or ("counter", "gauge", "histogram"):
                one = MetricFilters.model_validate(
                    {**filters.model_dump(exclude_none=True), "name": name, "type": kind}
                )
                count += writer.write_family(storage.iter_metrics(one, batch_size=batch_size))
        writer.finish()
    finally:
        writer.close()
    return count


def iter_all_spans(
    storage: ObservabilityStorage, filters: TraceFilters | None, batch_size: int
) -> Iterator[SpanRecord]:
    """Every span, or (with filters) every span of the traces whose root matches them."""
    if filters is None:
        yield from storage.iter_spans(batch_size=batch_size)
        return
    offset = 0
    while True:
        page = storage.list_traces(
            filters,
            pagination={"limit": min(batch_size, 1000), "offset": offset},
            order_by={"field": "started_at", "direction": "asc"},
        )
        for root in page.data:
            trace = storage.get_trace(root.trace_id)
            if trace is not None:
                yield from trace.spans
        if not page.has_more:
            return
        offset += len(page.data)


def export_traces(
    storage: ObservabilityStorage,
    out: Target,
    format: str = "jsonl",
    filters: TraceFilters | Mapping[str, Any] | None = None,
    compress: bool | None = None,
    batch_size: int = 1000,
) -> ExportStats:
    """Write spans to ``out``: every span, or with ``filters`` (``TraceFilters``, applied to
    root spans) the whole traces whose root matches. ``jsonl``: obsstore's span fields, one
    span a line; ``otlp-json``: OTLP/JSON export requests, one a line."""
    if format not in TRACE_FORMATS:
        raise InvalidArgumentError(f"format must be one of {', '.join(TRACE_FORMATS)}")
    parsed = None if filters is None else as_model(filters, TraceFilters)
    size = check_batch_size(batch_size)
    started = time.perf_counter()
    stats = ExportStats()
    with open_output(out, gzipped=wants_gzip(out, compress)) as (stream, counting):
        spans = iter_all_spans(storage, parsed, size)
        if format == "jsonl":
            stats.spans = trace_formats.write_jsonl(spans, stream)
        else:
            stats.spans = trace_formats.write_otlp_json(spans, stream, size)
    stats.bytes = counting.count
    stats.seconds = time.perf_counter() - started
    return stats


def import_data(
    storage: ObservabilityStorage, source: Target, batch_size: int = 10_000
) -> ExportStats:
    """Read what ``export_metrics``/``export_traces`` wrote as JSON lines (gzip or not; a
    file may hold points and spans) into ``storage``, a batch at a time. Points and spans
    already stored are skipped, so an interrupted import can simply be run again. A line
    that is not a valid point or span raises ``InvalidArgumentError`` naming its number;
    batches before it stay stored."""
    size = check_batch_size(batch_size)
    started = time.perf_counter()
    stats = ExportStats()
    metrics: list[MetricRecord] = []
    spans: list[SpanRecord] = []

    def flush() -> None:
        if metrics:
            stats.metrics_stored += storage.batch_record_metrics(metrics)
            metrics.clear()
        if spans:
            stats.spans_stored += storage.batch_create_spans(spans)
            spans.clear()

    with open_input(source) as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            stats.bytes += len(line)
            try:
                document = json.loads(line)
                if not isinstance(document, dict):
                    raise ValueError("not a JSON object")
                if "started_at" in document:
                    spans.append(SpanRecord.model_validate(document))
                    stats.spans += 1
                else:
                    metrics.append(MetricRecord.model_validate(document))
                    stats.metrics += 1
            except ValueError as exc:
                raise InvalidArgumentError(f"line {number} of the import: {exc}") from exc
            if len(metrics) + len(spans) >= size:
                flush()
    flush()
    stats.seconds = time.perf_counter() - started
    return stats


__all__ = [
    "METRIC_FORMATS",
    "TRACE_FORMATS",
    "ExportStats",
    "export_metrics",
    "export_traces",
    "import_data",
]
