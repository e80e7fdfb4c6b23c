"""What an export, import or copy did."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ExportStats:
    """Counts of one export, import or copy. ``metrics``/``spans``: records read (exported,
    or read from the file); ``metrics_stored``/``spans_stored``: records that were new to the
    target storage (import and copy only: a repeated run stores nothing twice)."""

    metrics: int = 0
    spans: int = 0
    metrics_stored: int = 0
    spans_stored: int = 0
    bytes: int = 0
    seconds: float = 0.0

    @property
    def points_per_second(self) -> float:
        return self.metrics / self.seconds if self.seconds > 0 else 0.0
