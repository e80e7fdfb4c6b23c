"""``RetentionJob``: prune a storage on a schedule, on a daemon thread of its own."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from obsstore.errors import InvalidArgumentError
from obsstore.lifecycle.policy import PruneReport, RetentionPolicy
from obsstore.models.queries import parse_interval

if TYPE_CHECKING:
    from obsstore.storage.base import MetricsStorage

logger = logging.getLogger(__name__)


class RetentionJob:
    """Runs ``storage.prune(policy)`` every ``every`` (a duration such as ``"1h"``) once
    started, and once more never after ``close()``. A failed run is logged and retried at the
    next period; ``run_once()`` runs one now, in the caller's thread, and raises its error.

    ``policy=None`` reads the policy from the environment once, here, so a bad setting fails
    at construction rather than an hour later."""

    def __init__(
        self,
        storage: MetricsStorage,
        policy: RetentionPolicy | dict[str, Any] | None = None,
        every: str | timedelta = "1h",
        *,
        reclaim: bool = False,
    ) -> None:
        from obsstore.storage.rollups_base import as_policy

        try:
            period = parse_interval(every)
        except ValueError as exc:
            raise InvalidArgumentError(f"every: {exc}") from None
        assert period is not None
        self.storage = storage
        self.policy = as_policy(policy)
        self.every = period
        self.reclaim = reclaim
        self.last_report: PruneReport | None = None
        self.last_error: BaseException | None = None
        self._stop = threading.Event()
        self._run_lock = threading.Lock()  # one prune at a time, thread or caller
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RetentionJob:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the schedule (the first run is one period from now); idempotent."""
        if self._stop.is_set():
            raise InvalidArgumentError("this RetentionJob is closed")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="obsstore-retention", daemon=True
            )
            self._thread.start()

    def run_once(self) -> PruneReport:
        with self._run_lock:
            report = self.storage.prune(self.policy, reclaim=self.reclaim)
            self.last_report = report
            return report

    def close(self, timeout: float | None = None) -> None:
        """Stop the schedule and wait for a run in progress (it finishes its batch)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.every.total_seconds()):
            try:
                self.run_once()
                self.last_error = None
            except Exception as exc:
                self.last_error = exc
                logger.exception("obsstore retention run failed; retrying in %s", self.every)
