"""Buffered, batched writes that keep what they accepted through outages, crashes and forks."""

from obsstore.writer.stats import WriterStats
from obsstore.writer.writer import MetricsWriter

__all__ = ["MetricsWriter", "WriterStats"]
