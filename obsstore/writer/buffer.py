"""The records a writer has accepted but not stored: a FIFO queue plus the one batch in flight.

Every record gets a sequence number when accepted, so ``flush()`` can tell when everything
accepted before it was resolved. Not thread-safe: the writer calls it under its lock.

Records wait as rows (``obsstore.models.dict_records``): flat tuples of text, numbers,
datetimes and shared tuples, each entry one plain tuple (the row, then seq, segment and
arrival), which the garbage collector stops tracking at the first collection it meets. It
never untracks a tuple subclass (such as a named tuple), and it untracks a tuple holding a
new tuple only a collection later, by which time the holder has moved to an older
generation: entries that stayed tracked reached the oldest one, made full collections
frequent (one every ~7,000 calls) and each walk the whole buffer, 50-70 ms of CPU inside a
``record()`` call."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Final

from obsstore.models import MetricRecord
from obsstore.models.dict_records import build_record

# The record as a row (see dict_records.record_values), then seq (acceptance order from 0),
# segment (the spool segment holding it, or None) and arrived (monotonic seconds).
Entry = tuple[Any, ...]
SEQ: Final = -3
SEGMENT: Final = -2
ARRIVED: Final = -1


def entry_row(entry: Entry) -> tuple[Any, ...]:
    return entry[:SEQ]


def entry_record(entry: Entry) -> MetricRecord:
    return build_record(entry_row(entry))


def entry_id(entry: Entry) -> str:
    return str(entry[0])


class PendingBuffer:
    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self.next_seq = 0
        self.in_flight: list[Entry] = []
        self._queue: deque[Entry] = deque()

    def __len__(self) -> int:
        return len(self._queue) + len(self.in_flight)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def oldest_arrival(self) -> float | None:
        return self._queue[0][ARRIVED] if self._queue else None

    def first_unresolved(self) -> int:
        """The lowest seq not resolved (stored, dropped or rejected); ``next_seq`` if none.
        The batch in flight came off the front of the queue, so it is older than the queue."""
        if self.in_flight:
            return int(self.in_flight[0][SEQ])
        return int(self._queue[0][SEQ]) if self._queue else self.next_seq

    def add(self, rows: Sequence[tuple[Any, ...]], segment: int | None, now: float) -> list[Entry]:
        """Queue ``rows``; returns the oldest queued entries dropped to stay in bounds."""
        first = self.next_seq
        if len(rows) == 1:
            self._queue.append(rows[0] + (first, segment, now))
        else:
            self._queue.extend(
                (*row, first + offset, segment, now) for offset, row in enumerate(rows)
            )
        self.next_seq = first + len(rows)
        return self._trim()

    def take(self, size: int) -> list[Entry]:
        """Move up to ``size`` of the oldest entries into flight."""
        count = min(size, len(self._queue))
        self.in_flight = [self._queue.popleft() for _ in range(count)]
        return self.in_flight

    def complete(self) -> list[Entry]:
        """The batch in flight was resolved: stored, or (some of it) rejected for good."""
        done, self.in_flight = self.in_flight, []
        return done

    def restore(self) -> list[Entry]:
        """The batch in flight failed: it goes back to the front of the queue. Returns what
        was dropped to stay in bounds, oldest first (so this batch goes before newer ones)."""
        self._queue.extendleft(reversed(self.in_flight))
        self.in_flight = []
        return self._trim()

    def _trim(self) -> list[Entry]:
        # Only queued entries count: the batch in flight may yet be stored, so while it is out
        # memory holds at most max_pending + one batch.
        excess = len(self._queue) - self.max_pending
        return [self._queue.popleft() for _ in range(excess)] if excess > 0 else []
