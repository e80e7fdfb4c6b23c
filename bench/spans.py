"""Row 6, spans ingest: ``batch_create_spans`` of 50,000 spans with about 1 KB of JSON each.

Traces are not on this branch yet, so the row reports itself as not measured. Once storages
have ``batch_create_spans``, fill in ``measure`` (build the spans outside the timing, write
them in batches into a fresh storage, return points per second and a raw-driver baseline) and
the harness prints it like the other ingest rows."""

from __future__ import annotations

from typing import Any

SPANS = 50_000


def measure(kind: str) -> dict[str, Any]:
    """``{"obsstore_per_s": ..., "baseline_per_s": ...}``, or ``{"not_measured": reason}``."""
    from obsstore.storage import backend_class_for

    if not hasattr(backend_class_for(kind), "batch_create_spans"):
        return {"not_measured": "no batch_create_spans on this branch (traces not merged yet)"}
    return {"not_measured": "spans row not written yet: see bench/spans.py"}
