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


def markdown(results: dict[str, Any]) -> str:
    settings = results["settings"]
    header = [
        f"Ingest: {settings['ingest_points']:,} points, median of {settings['ingest_repeats']}; "
        f"queries: {settings['query_points']:,} stored points, median of {settings['query_repeats']}. "
        "Ratio: obsstore / baseline for queries (lower is better), obsstore rate / baseline rate "
        "for ingest (higher is better).",
        "",
        "| row | backend | obsstore | baseline (raw driver) | ratio | target | |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    body = ingest_lines(results.get("ingest", {}))
    body += query_lines(results.get("queries", {}))
    body += span_lines(results) + memory_lines(results)
    return "\n".join(header + body)


def _span_goal(kind: str) -> str:
    floor = targets.SPANS_MIN_PER_S.get(kind)
    return "—" if floor is None else f"≥ {floor:,}/s"
