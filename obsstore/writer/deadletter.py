"""The dead-letter file: records the database rejected for good, kept beside the spool for a
person to inspect (and, once fixed, record again).

One JSON object per line: ``{"rejected_at": ISO 8601 UTC, "error": "Type: message",
"record": record.model_dump(mode="json")}``. Writers in several processes may share a spool
directory, so each append holds an exclusive ``flock`` on the file and is one ``write``."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from obsstore.models import MetricRecord

FILE_NAME = "rejected.jsonl"
MAX_ERROR_CHARS = 2000  # a driver's message can quote a whole statement


def describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def lines(rejected: Sequence[tuple[MetricRecord, str]], at: datetime) -> bytes:
    moment = at.astimezone(timezone.utc).isoformat()
    return b"".join(
        json.dumps(
            {"rejected_at": moment, "error": error, "record": record.model_dump(mode="json")},
            ensure_ascii=False,
        ).encode()
        + b"\n"
        for record, error in rejected
    )


def append(directory: Path, rejected: Sequence[tuple[MetricRecord, str]]) -> Path:
    """Append ``rejected`` (record, error text) pairs to the dead-letter file in ``directory``
    and fsync it; returns its path. Raises ``OSError`` when they could not be written."""
    import fcntl  # POSIX only, like the spool; a writer without a spool never gets here

    path = directory / FILE_NAME
    data = lines(rejected, datetime.now(timezone.utc))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock
    return path


def read(directory: Path) -> list[dict[str, object]]:
    """Every entry of the dead-letter file in ``directory`` (none if there is no file)."""
    path = directory / FILE_NAME
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
