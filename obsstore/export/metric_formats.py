"""Writers of metric points, one per file format. Each takes points as an iterator (from
``iter_metrics``) and writes them as they come: memory holds one batch, never the export."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from obsstore.export.prometheus_names import label_set, metric_name
from obsstore.models import MetricRecord, MetricType
from obsstore.schema import metrics as metrics_table

CSV_COLUMNS = [c.name for c in metrics_table.columns]
_JSON_COLUMNS = ("labels", "bucket_boundaries", "bucket_counts")


def write_jsonl(points: Iterable[MetricRecord], stream: BinaryIO) -> int:
    """One JSON object per line, the record's fields (unset optional fields left out)."""
    count = 0
    for record in points:
        stream.write(record.model_dump_json(exclude_none=True).encode())
        stream.write(b"\n")
        count += 1
    return count


def csv_row(record: MetricRecord) -> list[Any]:
    row: list[Any] = []
    for column in CSV_COLUMNS:
        value = getattr(record, column)
        if value is None:
            row.append("")
        elif column in _JSON_COLUMNS:
            row.append(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
        elif column in ("timestamp", "start_timestamp"):
            row.append(value.isoformat())
        elif column == "type":
            row.append(value.value)
        else:
            row.append(value)
    return row


def write_csv(points: Iterable[MetricRecord], stream: BinaryIO) -> int:
    """A header, then one row per point: JSON text for labels and buckets, ISO 8601 times
    (UTC), empty cells for unset fields."""
    text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        writer.writerow(CSV_COLUMNS)
        count = 0
        for record in points:
            writer.writerow(csv_row(record))
            count += 1
        text.flush()
        return count
    finally:
        text.detach()


def _batches(points: Iterable[MetricRecord], size: int) -> Iterator[list[MetricRecord]]:
    batch: list[MetricRecord] = []
    for record in points:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_parquet(points: Iterable[MetricRecord], stream: BinaryIO, batch_size: int) -> int:
    """Parquet (zstd), one row group per batch: typed columns (timestamps in UTC
    microseconds, labels as a map, buckets as lists)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    timestamp = pa.timestamp("us", tz="UTC")
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("timestamp", timestamp),
            ("name", pa.string()),
            ("type", pa.string()),
            ("value", pa.float64()),
            ("labels", pa.map_(pa.string(), pa.string())),
            ("organization_id", pa.string()),
            ("environment", pa.string()),
            ("service_name", pa.string()),
            ("trace_id", pa.string()),
            ("span_id", pa.string()),
            ("bucket_boundaries", pa.list_(pa.float64())),
            ("bucket_counts", pa.list_(pa.int64())),
            ("unit", pa.string()),
            ("start_timestamp", timestamp),
            ("histogram_count", pa.int64()),
            ("histogram_min", pa.float64()),
            ("histogram_max", pa.float64()),
        ]
    )
    assert schema.names == CSV_COLUMNS
    count = 0
    with pq.ParquetWriter(stream, schema, compression="zstd") as writer:
        for batch in _batches(points, batch_size):
            columns: dict[str, list[Any]] = {name: [] for name in CSV_COLUMNS}
            for record in batch:
                for name in CSV_COLUMNS:
                    value = getattr(record, name)
                    if name == "labels":
                        value = list(value.items())
                    elif name == "type":
                        value = value.value
                    columns[name].append(value)
            writer.write_table(pa.table(columns, schema=schema))
            count += len(batch)
    return count


# --- OpenMetrics ----------------------------------------------------------------------------


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _seconds(record: MetricRecord) -> str:
    from obsstore.models._fields import to_epoch_us

    us = to_epoch_us(record.timestamp)
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels_text(labels: dict[str, str], extra: tuple[str, str] | None = None) -> str:
    items = [*labels.items(), *([extra] if extra else [])]
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in items) + "}"


def _family_name(record: MetricRecord) -> str:
    return metric_name(record.name, record.unit, gauge=record.type is MetricType.GAUGE)


class OpenMetricsWriter:
    """OpenMetrics text with a timestamp on every sample (what ``promtool tsdb
    create-blocks-from openmetrics`` backfills). Points arrive one metric name and type at a
    time in time order; counters become running totals per series (stored points hold
    deltas), histograms cumulative buckets per series with ``_sum`` and ``_count``.

    OpenMetrics wants each series' samples together, while points arrive in time order
    across series: a family's lines wait in a temporary SQLite file (on disk, so memory stays
    bounded) and are written out series by series."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self._families: set[str] = set()
        self._spill_dir = tempfile.TemporaryDirectory(prefix="obsstore-openmetrics-")
        self._spill = sqlite3.connect(os.path.join(self._spill_dir.name, "lines.db"))
        self._spill.execute("PRAGMA journal_mode=OFF")
        self._spill.execute("PRAGMA synchronous=OFF")
        self._spill.execute("CREATE TABLE lines (series INTEGER, seq INTEGER, line BLOB)")

    def write_family(self, points: Iterable[MetricRecord]) -> int:
        """Points of one obsstore metric name and type, in timestamp order, as one family
        (named after the first point's name and unit; a name already used gets a suffix)."""
        count = 0
        totals: dict[Any, float] = {}
        histograms: dict[Any, tuple[float, float, list[int]]] = {}
        series_ids: dict[Any, int] = {}
        family = ""
        pending: list[tuple[int, int, bytes]] = []
        for record in points:
            if not count:
                family = _family_name(record)
                if family in self._families:
                    family = self._unique(family)
                self._families.add(family)
                self._header(family, record)
            labels = label_set(record.labels, record.service_name, record.environment)
            series = tuple(labels.items())
            series_id = series_ids.setdefault(series, len(series_ids))
            stamp = _seconds(record)
            lines = self._sample_lines(record, family, labels, series, stamp, totals, histograms)
            pending.append((series_id, count, b"".join(lines)))
            count += 1
            if len(pending) >= 10_000:
                self._spill.executemany("INSERT INTO lines VALUES (?, ?, ?)", pending)
                pending = []
        if count == len(pending):  # it all fitted in one batch: sorted in memory
            for _, _, line in sorted(pending, key=lambda item: (item[0], item[1])):
                self.stream.write(line)
            return count
        self._spill.executemany("INSERT INTO lines VALUES (?, ?, ?)", pending)
        for (line,) in self._spill.execute("SELECT line FROM lines ORDER BY series, seq"):
            self.stream.write(line)
        self._spill.execute("DELETE FROM lines")
        return count

    def _unique(self, family: str) -> str:
        n = 2
        while f"{family}_{n}" in self._families:
            n += 1
        return f"{family}_{n}"

    def _header(self, family: str, record: MetricRecord) -> None:
        kind = {"counter": "counter", "gauge": "gauge", "histogram": "histogram"}[record.type.value]
        self.stream.write(f"# TYPE {family} {kind}\n".encode())

    def _sample_lines(
        self,
        record: MetricRecord,
        family: str,
        labels: dict[str, str],
        series: Any,
        stamp: str,
        totals: dict[Any, float],
        histograms: dict[Any, tuple[float, float, list[int]]],
    ) -> list[bytes]:
        text = _labels_text(labels)
        if record.type is MetricType.GAUGE:
            return [f"{family}{text} {_number(record.value)} {stamp}\n".encode()]
        if record.type is MetricType.COUNTER:
            total = totals.get(series, 0.0) + record.value
            totals[series] = total
            return [f"{family}_total{text} {_number(total)} {stamp}\n".encode()]
        bounds = tuple(record.bucket_boundaries or ())
        counts = record.bucket_counts or []
        observed = record.histogram_count if record.histogram_count is not None else sum(counts)
        hkey = (series, bounds)
        total_sum, total_count, cumulative = histograms.get(hkey, (0.0, 0, [0] * len(counts)))
        if len(cumulative) != len(counts):
            cumulative = [0] * len(counts)
        cumulative = [a + b for a, b in zip(cumulative, counts, strict=True)]
        total_sum += record.value
        total_count += observed
        histograms[hkey] = (total_sum, total_count, cumulative)
        lines = []
        running = 0
        for bound, bucket in zip(bounds, cumulative, strict=False):
            running += bucket
            le = _labels_text(labels, ("le", _number(bound)))
            lines.append(f"{family}_bucket{le} {running} {stamp}\n".encode())
        le = _labels_text(labels, ("le", "+Inf"))
        total_count = max(total_count, running)  # +Inf counts everything below it
        histograms[hkey] = (total_sum, total_count, cumulative)
        lines.append(f"{family}_bucket{le} {int(total_count)} {stamp}\n".encode())
        lines.append(f"{family}_count{text} {int(total_count)} {stamp}\n".encode())
        lines.append(f"{family}_sum{text} {_number(total_sum)} {stamp}\n".encode())
        return lines

    def finish(self) -> None:
        self.stream.write(b"# EOF\n")

    def close(self) -> None:
        self._spill.close()
        self._spill_dir.cleanup()
