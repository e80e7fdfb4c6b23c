"""``MetricsWriter``: accept records at once on the caller's thread, store them in batches on one
background thread, and keep them (in memory, and in a spool when configured) until stored."""

from __future__ import annotations

import atexit
import logging
import os
import random
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from obsstore.errors import ObsstoreError
from obsstore.models import MetricRecord
from obsstore.models.dict_records import build_record, record_values, row_of_record
from obsstore.storage.arguments import check_batch
from obsstore.storage.base import MetricsStorage, coerce_records
from obsstore.storage.write_checks import checked_record
from obsstore.writer import deadletter
from obsstore.writer.buffer import (
    SEGMENT,
    SEQ,
    Entry,
    PendingBuffer,
    entry_id,
    entry_record,
    entry_row,
)
from obsstore.writer.deadletter import describe
from obsstore.writer.logs import RateLimitedLog, logger
from obsstore.writer.retry import backoff_delay, is_rejection, is_transient
from obsstore.writer.settings import WriterEnvironment, WriterSettings, resolve_writer_settings
from obsstore.writer.stats import WriterStats

if TYPE_CHECKING:
    from obsstore.writer.spool import Spool

# How long interpreter exit waits for a writer nobody closed (a spool keeps what is left).
EXIT_TIMEOUT_SECONDS = 5.0
_IDS_LOGGED = 5  # ids of rejected records named in one log message

_writers: weakref.WeakSet[MetricsWriter] = weakref.WeakSet()


class _FlushWaiter:
    """One ``flush()`` call: everything below ``target`` must be stored; ``lost`` if some of
    it was dropped instead."""

    __slots__ = ("lost", "target")

    def __init__(self, target: int) -> None:
        self.target = target
        self.lost = False


class MetricsWriter:
    """Buffered, batched writes to a storage that lose nothing they accepted while the process
    lives (and, with a spool directory, across crashes), within ``max_pending``.

    ``record()`` validates on the caller's thread and returns at once; one background thread
    writes a batch when ``batch_size`` records are waiting or the oldest has waited
    ``flush_interval`` milliseconds. A batch that failed because the database is unavailable
    (or its schema missing) stays pending and is retried with capped exponential backoff. A
    batch the database rejects for good is split until the records it refuses are found: the
    rest is stored, the refused ones are counted as ``rejected``, logged, and (with a spool)
    appended to ``rejected.jsonl`` in the spool directory. ``stats()`` tells how things stand."""

    def __init__(
        self,
        storage: MetricsStorage,
        *,
        batch_size: int | None = None,
        flush_interval: int | None = None,
        max_pending: int | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        settings: WriterEnvironment | None = None,
    ) -> None:
        self.settings: WriterSettings = resolve_writer_settings(
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_pending=max_pending,
            spool_dir=spool_dir,
            settings=settings,
        )
        self.storage = storage
        self._closed = False
        self._reset_state()
        self._spool: Spool | None = None
        if self.settings.spool_dir is not None:
            self._spool = _open_spool(self.settings.spool_dir)
            self._replay()
        _writers.add(self)
        atexit.register(self._close_at_exit)

    def _reset_state(self) -> None:
        """Fresh locks, buffer and counters: at construction, and in a forked child."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the background thread waits here
        self._progress = threading.Condition(self._lock)  # flush() and close() wait here
        self._buffer = PendingBuffer(self.settings.max_pending)
        self._thread: threading.Thread | None = None
        # True from the thread's start until its _run ends (under the lock): record() asks
        # this, not Thread.is_alive() (a fifth of the call's cost).
        self._thread_started = False
        self._waiters: list[_FlushWaiter] = []
        self._flush_target = 0  # write regardless of size and age until this seq is resolved
        self._stop_deadline: float | None = None  # set by close(timeout)
        self._retry_at = 0.0  # monotonic time before which no retry is attempted
        self._consecutive_failures = 0
        self._rng = random.Random()
        self._log = RateLimitedLog()
        self._accepted = self._stored = self._dropped = self._replayed = self._rejected = 0
        self._failed_flushes = 0
        self._last_error: str | None = None
        self._healthy = True

    # --- public API ----------------------------------------------------------------------
    def record(self, record: MetricRecord | Mapping[str, Any]) -> None:
        """Accept one record (validated here: bad input raises pydantic's ValidationError)."""
        row = record_values(record) if type(record) is dict else None
        if row is None:
            row = row_of_record(
                checked_record(record)
                if isinstance(record, MetricRecord)
                else MetricRecord.model_validate(record)
            )
        self._accept([row])

    def record_many(self, records: Iterable[MetricRecord | Mapping[str, Any]]) -> None:
        """Accept records; all are validated first, so one bad item means none is accepted."""
        batch = check_batch("records", records)
        rows: list[Any] = list(map(record_values, batch)) if _all_dicts(batch) else [None]
        if None in rows:
            rows = list(map(row_of_record, coerce_records(batch)))
        if rows:
            self._accept(rows)

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything accepted so far now; True once all of it is stored, False if the
        timeout passed first (it stays pending) or some of it was dropped or rejected
        meanwhile."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._buffer.next_seq
            if self._buffer.first_unresolved() >= target:
                return True
            waiter = _FlushWaiter(target)
            self._waiters.append(waiter)
            self._flush_target = max(self._flush_target, target)
            self._retry_at = 0.0  # an explicit flush retries now, not after the backoff
            self._ensure_thread()
            self._wake.notify()
            try:
                while self._buffer.first_unresolved() < target and self._thread_running():
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    self._progress.wait(remaining)
                return self._buffer.first_unresolved() >= target and not waiter.lost
            finally:
                self._waiters.remove(waiter)

    def close(self, timeout: float | None = None) -> None:
        """Flush what is pending (for at most ``timeout`` seconds) and stop the background
        thread. Records still pending afterwards stay in the spool, if there is one; without a
        spool they are lost, and a warning says how many. Idempotent."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop_deadline = deadline
            self._flush_target = self._buffer.next_seq
            self._retry_at = 0.0
            thread = self._thread
            self._wake.notify()
        if thread is not None:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        with self._lock:
            if (thread is None or not thread.is_alive()) and self._spool is not None:
                self._spool.close()
            left = len(self._buffer)
        atexit.unregister(self._close_at_exit)
        if left:
            where = (
                f"they stay in the spool in {self._spool.directory} for the next writer there"
                if self._spool is not None
                else "without a spool directory they are lost"
            )
            logger.warning("MetricsWriter closed with %d records not stored; %s", left, where)

    def stats(self) -> WriterStats:
        with self._lock:
            return WriterStats(
                accepted=self._accepted,
                stored=self._stored,
                pending=len(self._buffer),
                spooled=self._spool.live if self._spool is not None else 0,
                dropped=self._dropped,
                failed_flushes=self._failed_flushes,
                last_error=self._last_error,
                healthy=self._healthy,
                replayed=self._replayed,
                rejected=self._rejected,
            )

    def __enter__(self) -> MetricsWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- accepting -----------------------------------------------------------------------
    def _accept(self, items: list[tuple[Any, ...]]) -> None:
        # On every record() call: the common case (no spool, nothing dropped, the thread
        # running) takes no call it can skip.
        frames = self._spool_frames(items) if self._spool is not None else b""
        now = time.monotonic()
        spool_error: OSError | None = None
        with self._lock:
            if self._closed:
                raise ObsstoreError("this MetricsWriter is closed")
            segment = None
            if self._spool is not None:
                try:
                    segment = self._spool.append(frames, len(items))
                except OSError as exc:
                    spool_error = exc  # still accepted: memory keeps it until stored
                    self._last_error = f"spool: {exc}"
            dropped = self._buffer.add(items, segment, now)
            self._accepted += len(items)
            if dropped:
                self._record_dropped(dropped)
            dropped_total = self._dropped
            if not self._thread_started:
                self._ensure_thread()
            queued = self._buffer.queued
            if queued == len(items) or queued >= self.settings.batch_size:
                self._wake.notify()  # a first record starts the clock; a full batch goes now
        if dropped:
            self._warn_dropped(len(dropped), dropped_total)
        if spool_error is not None:
            self._log.log(
                "spool",
                logging.ERROR,
                "could not append to the spool in %s (%s); records are kept in memory only",
                self.settings.spool_dir,
                spool_error,
            )

    def _spool_frames(self, rows: list[tuple[Any, ...]]) -> bytes:
        # Serialising is the slow part of spooling, so it happens before taking the lock.
        if self._spool is None:
            return b""
        return self._spool.encode(list(map(build_record, rows)))

    def _replay(self) -> None:
        assert self._spool is not None
        adopted = self._spool.adopt_orphans()
        overdue = time.monotonic() - self.settings.flush_interval_seconds  # written at once
        dropped_now = 0
        with self._lock:
            for segment, records in adopted:
                dropped = self._buffer.add(list(map(row_of_record, records)), segment, overdue)
                self._accepted += len(records)
                self._replayed += len(records)
                self._record_dropped(dropped)
                dropped_now += len(dropped)
            dropped_total = self._dropped
            if self._replayed:
                self._ensure_thread()
        if self._replayed:
            logger.info(
                "replaying %d records from %d spool segments in %s left by earlier writers",
                self._replayed,
                len(adopted),
                self.settings.spool_dir,
            )
        if dropped_now:
            self._warn_dropped(dropped_now, dropped_total)

    def _record_dropped(self, dropped: list[Entry]) -> None:
        """Account for entries dropped by the buffer (under the lock)."""
        if not dropped:
            return
        self._dropped += len(dropped)
        self._release_spooled(dropped)
        self._lose_for_waiters(dropped[0][SEQ])  # the buffer keeps seq order: the oldest

    def _lose_for_waiters(self, oldest: int) -> None:
        """Records from seq ``oldest`` on will never be stored: flushes waiting on it fail."""
        for waiter in self._waiters:
            if oldest < waiter.target:
                waiter.lost = True

    def _release_spooled(self, entries: list[Entry]) -> None:
        if self._spool is None:
            return
        for segment, count in Counter(e[SEGMENT] for e in entries).items():
            if segment is not None:
                self._spool.release(segment, count)

    def _warn_dropped(self, count: int, total: int) -> None:
        self._log.log(
            "dropped",
            logging.WARNING,
            "more than max_pending=%d records pending: dropped the %d oldest (%d dropped in "
            "all); the database is not keeping up or is unavailable",
            self.settings.max_pending,
            count,
            total,
        )

    # --- the background thread -----------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._closed or self._thread_running():
            return
        self._thread = threading.Thread(target=self._run, name="obsstore-writer", daemon=True)
        self._thread.start()
        self._thread_started = True

    def _thread_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    batch = self._next_batch()
                    if batch is None:
                        return
                    unsynced = self._spool.take_unsynced() if self._spool is not None else None
                if unsynced is not None and self._spool is not None:
                    self._spool.fsync(*unsynced)
                try:
                    rejected = self._write(batch)
                except Exception as exc:
                    self._batch_failed(len(batch), exc)
                else:
                    self._batch_stored(len(batch), rejected)
        except Exception:
            # A bug, not a database failure: say so; the records stay pending (and spooled),
            # and the next record() starts a new thread.
            logger.exception("obsstore writer thread stopped unexpectedly")
        finally:
            with self._lock:
                self._thread_started = False
                if self._closed and self._spool is not None:
                    self._spool.close()
                self._progress.notify_all()

    def _next_batch(self) -> list[Entry] | None:
        """Wait (under the lock) until a batch is due; None when it is time to stop."""
        batch_size = self.settings.batch_size
        while True:
            now = time.monotonic()
            queued = self._buffer.queued
            stopping = self._closed and (
                queued == 0 or (self._stop_deadline is not None and now >= self._stop_deadline)
            )
            if stopping:
                return None
            wake_at: float | None = None
            if queued:
                oldest = self._buffer.oldest_arrival()
                assert oldest is not None
                urgent = (
                    queued >= batch_size
                    or self._closed
                    or self._buffer.first_unresolved() < self._flush_target
                )
                due = now if urgent else oldest + self.settings.flush_interval_seconds
                due = max(due, self._retry_at)
                if due <= now:
                    return self._buffer.take(batch_size)
                wake_at = due
            deadline = self._stop_deadline if self._closed else None
            if deadline is not None:
                wake_at = deadline if wake_at is None else min(wake_at, deadline)
            # Idle (nothing queued, not closing): sleep until record() or flush() wakes us.
            self._wake.wait(None if wake_at is None else wake_at - now)

    def _write(self, batch: list[Entry]) -> list[tuple[Entry, Exception]]:
        """Store ``batch``; returns the entries the database rejects for good, with their
        errors. A rejected batch is split in halves, each written on its own (recursively), so
        one bad record among n costs about 2*log2(n) more writes; ids make rewriting a record
        an earlier half stored harmless. Any other failure propagates: the batch is retried."""
        try:
            self.storage.batch_record_metrics([build_record(entry_row(entry)) for entry in batch])
        except Exception as exc:
            if not is_rejection(exc):
                raise
            if len(batch) == 1:
                return [(batch[0], exc)]
            middle = len(batch) // 2
            return self._write(batch[:middle]) + self._write(batch[middle:])
        return []

    def _batch_stored(self, size: int, rejected: list[tuple[Entry, Exception]]) -> None:
        """The batch in flight is resolved: stored, except for the ``rejected`` entries."""
        kept_in = self._keep_rejected(rejected)  # before the spool lets go of them
        with self._lock:
            done = self._buffer.complete()
            self._stored += len(done) - len(rejected)
            self._rejected += len(rejected)
            if rejected:
                self._lose_for_waiters(min(entry[SEQ] for entry, _ in rejected))
                self._last_error = "rejected: " + describe(rejected[0][1])
            self._release_spooled(done)
            if self._spool is not None:
                self._spool.collect()
            recovered = not self._healthy
            failures = self._consecutive_failures
            self._healthy = True
            self._consecutive_failures = 0
            self._retry_at = 0.0
            self._progress.notify_all()
        if recovered:
            logger.info("obsstore writer recovered: a batch was stored after %d failures", failures)
        if rejected:
            first = rejected[0][1]
            ids = ", ".join(entry_id(entry) for entry, _ in rejected[:_IDS_LOGGED])
            more = len(rejected) - _IDS_LOGGED
            self._log.log(
                "rejected",
                logging.ERROR,
                "the database rejected %d of a batch of %d records (ids %s%s): %s; they are not "
                "retried, %s",
                len(rejected),
                size,
                ids,
                f" and {more} more" if more > 0 else "",
                describe(first),
                kept_in,
                exc_info=first,
            )

    def _keep_rejected(self, rejected: list[tuple[Entry, Exception]]) -> str:
        """Append rejected records to the dead-letter file beside the spool, if there is one;
        returns where they went, for the log."""
        directory = self.settings.spool_dir
        if not rejected:
            return ""
        if directory is None:
            return "and without a spool directory they are not kept"
        try:
            path = deadletter.append(
                directory, [(entry_record(entry), describe(error)) for entry, error in rejected]
            )
        except OSError as exc:
            # Logged under a key of its own, so a rejection that follows cannot hide it.
            where = directory / deadletter.FILE_NAME
            self._log.log("dead-letter", logging.ERROR, "could not append to %s: %s", where, exc)
            return f"and could not be kept: appending them to {where} failed ({exc})"
        return f"and were appended to {path}"

    def _batch_failed(self, size: int, error: Exception) -> None:
        with self._lock:
            dropped = self._buffer.restore()
            self._record_dropped(dropped)
            if self._spool is not None:
                self._spool.collect()
            self._failed_flushes += 1
            self._consecutive_failures += 1
            self._healthy = False
            self._last_error = f"{type(error).__name__}: {error}"
            delay = backoff_delay(self._consecutive_failures, self._rng)
            self._retry_at = time.monotonic() + delay
            pending = len(self._buffer)
            dropped_total = self._dropped
            self._progress.notify_all()
        if dropped:
            self._warn_dropped(len(dropped), dropped_total)
        if is_transient(error):
            self._log.log(
                "unavailable",
                logging.WARNING,
                "storing a batch of %d records failed (%s); %d records pending, retrying in %.2fs",
                size,
                error,
                pending,
                delay,
            )
        else:
            # Not an outage but not the records' fault either (a missing schema, a closed
            # storage): retried, since an operator can fix it, and logged with its traceback.
            self._log.log(
                "failed",
                logging.ERROR,
                "storing a batch of %d records failed with a non-transient error; %d records "
                "pending, retrying in %.2fs",
                size,
                pending,
                delay,
                exc_info=error,
            )

    # --- process lifecycle ---------------------------------------------------------------
    def _close_at_exit(self) -> None:
        self.close(timeout=EXIT_TIMEOUT_SECONDS)

    def _after_fork_in_child(self) -> None:
        # The child gets none of the parent's records (the parent writes them) and must not
        # touch its spool files or keep their locks alive; it starts afresh, spooling (if at
        # all) into segments of its own.
        spool = self._spool
        self._reset_state()
        if spool is not None:
            spool.forget_after_fork()
            self._spool = _open_spool(spool.directory, spool.segment_bytes)


def _all_dicts(batch: list[Any]) -> bool:
    return bool(batch) and {dict}.issuperset(map(type, batch))


def _open_spool(directory: Path, segment_bytes: int | None = None) -> Spool:
    # Imported here: the spool needs fcntl (POSIX), and a writer without one should not.
    from obsstore.writer.spool import SEGMENT_BYTES, Spool

    return Spool(directory, segment_bytes or SEGMENT_BYTES)


def _reset_writers_in_child() -> None:
    for writer in list(_writers):
        writer._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_writers_in_child)
