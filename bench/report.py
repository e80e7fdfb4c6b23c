"""The Markdown table of a benchmark run, with each result checked against its target."""

from __future__ import annotations

from typing import Any

from bench import targets
from bench.queries import QUERY_ROWS
from bench.timing import median

INGEST_ROWS = {
    "obsstore_records": "1. ingest prebuilt `MetricRecord`s, batches of 10,000 (points/s)",
    "obsstore_dicts": "2. ingest plain dicts, validation included (points/s)",
}
_QUERY_TITLES = {
    "list_page": "3. `list_metrics`: first page of 100, one name + one label, newest first, with total (ms)",
    "avg_by_route": "4. `aggregate_metrics` avg, 1 h buckets, by route; one metric name, 7 days: a dashboard panel (ms)",
    "avg_by_service": "4b. `aggregate_metrics` avg, 1 h buckets, by service; every stored point, 7 days (ms)",
    "p95_by_service": "5. `aggregate_metrics` p95 by service; every stored point, 7 days (ms)",
}
assert set(_QUERY_TITLES) == set(QUERY_ROWS)


def _rate(points: int, seconds: float) -> str:
    return f"{points / seconds:,.0f}"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "**missed**")


def ingest_lines(ingest: dict[str, Any]) -> list[str]:
    lines = []
    for key, title in INGEST_ROWS.items():
        for kind, run in ingest.items():
            points, seconds = run["points"], run["seconds"]
            ours = median(seconds[key])
            raw = median(seconds["raw"]) if "raw" in seconds else None
            ratio = raw / ours if raw else None
            goals, ok = [], None
            if key == "obsstore_dicts" and ratio is not None:
                goals.append(f"ratio ≥ {targets.DICT_INGEST_RATIO_MIN}")
                ok = ratio >= targets.DICT_INGEST_RATIO_MIN
            if key == "obsstore_records":
                floor = targets.INGEST_MIN_PER_S[kind]
                goals.append(f"≥ {floor:,}/s")
                ok = points / ours >= floor
                if ratio is not None:
                    goals.append(f"ratio ≥ {targets.INGEST_RATIO_MIN}")
                    ok = ok and ratio >= targets.INGEST_RATIO_MIN
            lines.append(
                f"| {title} | {kind} | {_rate(points, ours)} | "
                f"{_rate(points, raw) if raw else '—'} | {f'{ratio:.2f}' if ratio else '—'} | "
                f"{', '.join(goals) or '—'} | {_verdict(ok)} |"
            )
    return lines


def query_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for row, title in _QUERY_TITLES.items():
        for kind, rows in results.items():
            entry = rows[row]
            ours, raw = entry["obsstore_s"], entry.get("baseline_s")
            ratio = ours / raw if raw else None
            goals, checks = [], []
            if ratio is not None:
                goals.append(f"ratio ≤ {targets.QUERY_RATIO_MAX}")
                checks.append(ratio <= targets.QUERY_RATIO_MAX)
            if row in targets.AGGREGATE_FULL_SCAN_ROWS:
                limit = targets.AGGREGATE_MAX_S[kind]
                goals.append(f"≤ {limit * 1000:,.0f} ms")
                checks.append(ours <= limit)
            same = [entry[k] for k in ("same_answer", "same_as_memory") if k in entry]
            note = "" if all(same) else " (answers differ!)"
            lines.append(
                f"| {title} | {kind} | {ours * 1000:,.1f} | "
                f"{f'{raw * 1000:,.1f}' if raw else '—'} | {f'{ratio:.2f}' if ratio else '—'} | "
                f"{', '.join(goals) or '—'} | {_verdict(all(checks) if checks else None)}{note} |"
            )
    return lines


def memory_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    if "bytes_per_point" in results:
        value = results["bytes_per_point"]
        ok = value <= targets.BYTES_PER_POINT_MAX
        lines.append(
            f"| memory backend: bytes held per stored point (tracemalloc) | memory | {value:,.0f} | — | — | "
            f"≤ {targets.BYTES_PER_POINT_MAX} | {_verdict(ok)} |"
        )
    for kind, run in results.get("ingest", {}).items():
        peak, data = run["peak_rss_kib"] / 1024, run["data_rss_kib"] / 1024
        lines.append(
            f"| peak RSS of the ingest run, MiB (of which {data:,.0f} MiB is the generated input) "
            f"| {kind} | {peak:,.0f} | — | — | — | |"
        )
    return lines


def span_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for kind, run in results.get("spans", {}).items():
        count, seconds = run["spans"], run["seconds"]
        ours = median(seconds["obsstore"])
        raw = median(seconds["raw"]) if "raw" in seconds else None
        floor = targets.SPANS_MIN_PER_S.get(kind)
        title = (
            f"6. `batch_create_spans`, {count:,} spans of "
            f"{run['json_bytes_per_span']:,.0f} B JSON, batches of {run['batch_size']:,} (spans/s)"
        )
        lines.append(
            f"| {title} | {kind} | {_rate(count, ours)} | {_rate(count, raw) if raw else '—'} | "
            f"{f'{raw / ours:.2f}' if raw else '—'} | {_span_goal(kind)} | "
            f"{_verdict(None if floor is None else count / ours >= floor)} |"
        )
    return lines


def hotpath_lines(hot: dict[str, Any]) -> list[str]:
    """Validation alone, record() latency and the MLflow peer row (bench/hotpath.py)."""
    lines = []
    if "validation" in hot:
        run = hot["validation"]
        ours, theirs = median(run["seconds"]["obsstore"]), median(run["seconds"]["pydantic"])
        floor = targets.VALIDATION_MIN_PER_S
        lines.append(
            "| 7. validation alone: plain dicts to validated columns as `batch_record_metrics` "
            "writes them, batches of 10,000 (records/s; baseline: pydantic "
            f"`TypeAdapter(list[MetricRecord])`) | — | "
            f"{_rate(run['points'], ours)} | {_rate(run['points'], theirs)} | "
            f"{theirs / ours:.2f} | ≥ {floor:,}/s | {_verdict(run['points'] / ours >= floor)} |"
        )
        if "obsstore_records" in run["seconds"]:
            records = median(run["seconds"]["obsstore_records"])
            lines.append(
                "| 7b. validation alone, `MetricRecord`s out (`coerce_records`: the columns, "
                "then a model each), batches of 10,000 (records/s; baseline: pydantic) | — | "
                f"{_rate(run['points'], records)} | {_rate(run['points'], theirs)} | "
                f"{theirs / records:.2f} | — |  |"
            )
    for entry in hot.get("record", {}).values():
        where = f"{entry['kind']}, {entry['threads']} thread{'s' if entry['threads'] > 1 else ''}"
        title = (
            f"8. `MetricsWriter.record()` of a small dict, {entry['calls']:,} calls while "
            f"flushing ({where}); baseline: `{entry['baseline_ref']}`"
        )
        limits = {
            "median_us": ("median µs", targets.RECORD_MEDIAN_US_MAX),
            "p99_us": ("p99 µs", targets.RECORD_P99_US_MAX),
            "max_ms": ("longest ms", targets.RECORD_PAUSE_MS_MAX),
        }
        if "control_max_ms" in entry:
            title += (
                f" (scheduler control, the loop without obsstore: longest "
                f"{entry['control_max_ms']:,.1f} ms)"
            )
        for stat, (label, limit) in limits.items():
            ours, base = entry[f"obsstore_{stat}"], entry[f"baseline_{stat}"]
            targeted = entry["kind"] == "sqlite" and entry["threads"] == 1
            lines.append(
                f"| {title}: {label} | {entry['kind']} | {ours:,.1f} | {base:,.1f} | "
                f"{ours / base:.2f} | {f'≤ {limit:g}' if targeted else '—'} | "
                f"{_verdict(ours <= limit) if targeted else ''} |"
            )
    mlflow = hot.get("mlflow", {})
    if "skipped" in mlflow:
        lines.append(
            f"| 9. plain dicts vs MLflow `log_batch`: skipped, {mlflow['skipped']} | | | | | | |"
        )
    for kind, run in mlflow.items():
        if kind == "skipped":
            continue
        ours, theirs = median(run["seconds"]["obsstore"]), median(run["seconds"]["mlflow"])
        ratio = theirs / ours
        lines.append(
            f"| 9. plain dicts, {run['per_call']:,} per call, {run['points']:,} points (points/s; "
            f"baseline: MLflow `log_batch`) | {kind} | {_rate(run['points'], ours)} | "
            f"{_rate(run['points'], theirs)} | {ratio:.2f} | ≥ {targets.MLFLOW_RATIO_MIN:g}x | "
            f"{_verdict(ratio >= targets.MLFLOW_RATIO_MIN)} |"
        )
    return lines


_GROWTH_TITLES = {
    "list_page": "`list_metrics` first page of 100 with its total (which counts all history)",
    "panel": "dashboard panel: avg by route, 1 h buckets, last 24 h",
    "count_24h": "`count_metrics`, one name + one label, last 24 h",
}


def growth_lines(growth: dict[str, Any]) -> list[str]:
    """10. The same query at the small and the large store (bench/growth.py): ms, ratio."""
    lines = []
    small, large = growth.get("small"), growth.get("large")
    for kind, run in growth.items():
        if not isinstance(run, dict):
            continue
        if "skipped" in run:
            lines.append(f"| 10. growth: skipped, {run['skipped']} | {kind} | | | | | |")
            continue
        for row, title in _GROWTH_TITLES.items():
            ours = run["sizes"][str(large)]["median_s"][row]
            base = run["sizes"][str(small)]["median_s"][row]
            targeted = (
                row in targets.GROWTH_FIXED_WINDOW_ROWS and kind in targets.GROWTH_TARGET_BACKENDS
            )
            same = run["same_recent_answers"].get(row, True)
            lines.append(
                f"| 10. growth, {title}: {large:,} (obsstore column) vs {small:,} (baseline "
                f"column) stored points (ms) | {kind} | {ours * 1000:,.1f} | {base * 1000:,.1f} | "
                f"{ours / base:.2f} | {f'≤ {targets.GROWTH_RATIO_MAX}' if targeted else '—'} | "
                f"{_verdict(ours / base <= targets.GROWTH_RATIO_MAX) if targeted else ''}"
                f"{'' if same else ' (answers differ!)'} |"
            )
    return lines


def markdown(results: dict[str, Any]) -> str:
    settings = results["settings"]
    header = [
        f"Ingest: {settings['ingest_points']:,} points, median of {settings['ingest_repeats']}; "
        f"queries: {settings['query_points']:,} stored points, median of {settings['query_repeats']}. "
        "Ratio: obsstore / baseline for times and latencies (lower is better), obsstore rate / "
        "baseline rate for rates (higher is better).",
        "",
        "| row | backend | obsstore | baseline (raw driver) | ratio | target | |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    body = ingest_lines(results.get("ingest", {}))
    body += query_lines(results.get("queries", {}))
    body += span_lines(results) + memory_lines(results)
    body += hotpath_lines(results.get("hotpath", {})) + growth_lines(results.get("growth", {}))
    return "\n".join(header + body)


def _span_goal(kind: str) -> str:
    floor = targets.SPANS_MIN_PER_S.get(kind)
    return "—" if floor is None else f"≥ {floor:,}/s"
