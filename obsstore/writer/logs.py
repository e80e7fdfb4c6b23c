"""Warnings that repeat while a database is down are rate limited, never silenced."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

logger = logging.getLogger("obsstore.writer")

LOG_INTERVAL_SECONDS = 10.0


class RateLimitedLog:
    """Logs a message per key at most once per interval; the next one that gets through says
    how many were held back."""

    def __init__(self, interval: float = LOG_INTERVAL_SECONDS) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, key: str, level: int, message: str, *args: Any, exc_info: Any = None) -> bool:
        with self._lock:
            now = time.monotonic()
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            self._last[key] = now
            held_back = self._suppressed.pop(key, 0)
        if held_back:
            message += " (%d similar messages held back)"
            args = (*args, held_back)
        logger.log(level, message, *args, exc_info=exc_info)
        return True
