"""The lifecycle half of the storage contract: rollups, reads that use them, and pruning.

The orchestration (which buckets to recompute, in which order things are written and deleted so
that an interrupted prune loses nothing) is written once here; backends implement the
``_``-hooks: recompute a level over a time range, read rollup rows, delete in bounded batches.

The invariants, which every step keeps even when killed between two transactions:
- a level's buckets before its ``complete_until`` are materialised from every raw point that
  existed when they were computed;
- raw points are deleted only before the raw ``pruned_before`` mark, which is set (after
  rolling up every level's buckets below it) before the first of them is deleted, and a
  bucket below that mark is never recomputed (its raw points may be partly gone)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

from obsstore.errors import InvalidArgumentError
from obsstore.lifecycle.histograms import histograms_from_points
from obsstore.lifecycle.planning import (
    MAX_US,
    MIN_US,
    RAW,
    LevelState,
    Piece,
    ceil_to,
    floor_to,
    plan,
)
from obsstore.lifecycle.policy import PruneReport, RetentionPolicy, policy_from_environment
from obsstore.models import AggregatePoint, Aggregation, MetricFilters, MetricRecord
from obsstore.models._fields import from_epoch_us, to_epoch_us, to_utc, utc_now

# No transaction deletes or recomputes more than about this many rows (well under the 50,000
# the design allows: a SQLite writer waits for at most one such transaction).
BATCH_ROWS = 20_000
BATCH_PAUSE_SECONDS = 0.002
_US = timedelta(microseconds=1)


def as_policy(policy: RetentionPolicy | dict[str, Any] | None) -> RetentionPolicy:
    if policy is None:
        return policy_from_environment()
    if isinstance(policy, RetentionPolicy):
        return policy
    return RetentionPolicy.model_validate(policy)


def _instant(name: str, value: datetime | None) -> datetime:
    if value is None:
        return utc_now()
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidArgumentError(f"{name} must be a timezone-aware datetime")
    return to_utc(value)


class RollupStorage(ABC):
    """Rollups, retention and the ``source`` of aggregates, on every backend alike."""

    aggregates_sorted: ClassVar[bool]

    # --- public --------------------------------------------------------------------------
    def rollup(
        self,
        until: datetime | None = None,
        *,
        policy: RetentionPolicy | dict[str, Any] | None = None,
        since: datetime | None = None,
    ) -> int:
        """Materialise every complete bucket of every level of ``policy`` (None: from the
        environment) before ``until`` (default: now); returns rollup rows written.

        Buckets from one bucket before each level's watermark are recomputed whole from raw
        points, so late points there are counted; ``since`` recomputes from an earlier time
        (never before raw points were pruned). Idempotent."""
        resolved = as_policy(policy)
        end = to_epoch_us(_instant("until", until))
        start = None if since is None else to_epoch_us(_instant("since", since))
        return self._rollup_all(resolved, end, start)

    def prune(
        self,
        policy: RetentionPolicy | dict[str, Any] | None = None,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        reclaim: bool = False,
    ) -> PruneReport:
        """Roll up, then delete raw points, rollup rows and whole traces older than the
        policy's horizons, in bounded batches. Raw points go in whole buckets of the coarsest
        level, and only after every level has them rolled up. ``dry_run`` counts what would
        be deleted and changes nothing; ``reclaim`` returns freed space to the filesystem where
        the backend needs asking. Safe to interrupt and run again."""
        resolved = as_policy(policy)
        started = time.monotonic()
        now_us = to_epoch_us(_instant("now", now))
        raw_horizon = self._raw_horizon(resolved, now_us)
        level_horizons = {
            level.micros: floor_to(now_us - level.keep // _US, level.micros)
            for level in resolved.rollups
            if level.keep is not None
        }
        trace_horizon = None if resolved.traces is None else now_us - resolved.traces // _US
        if dry_run:
            return self._prune_counts(raw_horizon, level_horizons, trace_horizon, started)
        written = self._rollup_all(resolved, now_us, None, prune_until=raw_horizon)
        points = 0
        if raw_horizon is not None:
            self._set_state(RAW, pruned_before=raw_horizon)
            points = self._delete_points_before(raw_horizon)
        rollup_rows = 0
        for level, horizon in level_horizons.items():
            self._set_state(level, pruned_before=horizon)
            rollup_rows += self._delete_rollups_before(level, horizon)
        traces = spans = 0
        if trace_horizon is not None:
            traces, spans = self._delete_traces_before(trace_horizon)
        if reclaim:
            self._reclaim_space()
        return PruneReport(
            points_deleted=points,
            rollup_rows_deleted=rollup_rows,
            traces_deleted=traces,
            spans_deleted=spans,
            rollup_rows_written=written,
            seconds=time.monotonic() - started,
        )

    # --- orchestration -------------------------------------------------------------------
    def _raw_horizon(self, policy: RetentionPolicy, now_us: int) -> int | None:
        if policy.raw is None:
            return None
        horizon = now_us - policy.raw // _US
        if policy.rollups:  # whole buckets of the coarsest level, which every level divides
            horizon = floor_to(horizon, policy.rollups[-1].micros)
        return horizon

    def _prune_counts(
        self,
        raw_horizon: int | None,
        level_horizons: dict[int, int],
        trace_horizon: int | None,
        started: float,
    ) -> PruneReport:
        traces, spans = (
            (0, 0) if trace_horizon is None else self._count_traces_before(trace_horizon)
        )
        return PruneReport(
            points_deleted=0 if raw_horizon is None else self._count_points_before(raw_horizon),
            rollup_rows_deleted=sum(
                self._count_rollups_before(level, horizon)
                for level, horizon in level_horizons.items()
            ),
            traces_deleted=traces,
            spans_deleted=spans,
            seconds=time.monotonic() - started,
            dry_run=True,
        )

    def _rollup_all(
        self,
        policy: RetentionPolicy,
        until_us: int,
        since_us: int | None,
        *,
        prune_until: int | None = None,
    ) -> int:
        """Recompute each level from one bucket before its watermark (or ``since_us``) to
        ``until_us``; with ``prune_until``, also every bucket before it whose raw points are
        all still stored (they are about to be deleted).

        A level whose interval a finer level's divides is derived from that level's rows
        (which are recomputed from raw points over the same ranges first), not from raw
        points again."""
        states = self._rollup_states()
        raw_floor = states.get(RAW, LevelState()).pruned_before
        oldest: int | None = None
        plans: dict[int, list[tuple[int, int]]] = {}
        floors: dict[int, int | None] = {}
        for level in policy.rollups:
            step = level.micros
            state = states.get(step, LevelState())
            end = floor_to(until_us, step)
            if state.complete_until is not None:
                start = state.complete_until - step
            else:
                oldest = oldest if oldest is not None else self._oldest_point()
                start = end if oldest is None else oldest
            if since_us is not None:
                start = min(start, since_us)
            start = floor_to(start, step)
            ranges = [(start, end)]
            if prune_until is not None:
                # Buckets about to lose their raw points, below the range recomputed anyway:
                # those whose point counts disagree with their rollups (points written late,
                # or deleted, since) are recomputed now, while every raw point is there.
                if raw_floor is None:
                    oldest = oldest if oldest is not None else self._oldest_point()
                low = raw_floor if raw_floor is not None else oldest
                if low is not None:
                    ranges += self._stale_ranges(step, floor_to(low, step), min(prune_until, start))
            # Never below the raw horizon (raw points there may be partly gone) nor below
            # what this level has pruned.
            floor: int | None = None
            for mark in (raw_floor, state.pruned_before):
                if mark is not None:
                    floor = max(ceil_to(mark, step), floor if floor is not None else mark)
            floors[step] = floor
            plans[step] = ranges
        steps = [level.micros for level in policy.rollups]
        sources = self._derivations(steps, plans, floors)
        written = 0
        for step in steps:
            for low, high in _merge(plans[step]):
                low = floor_to(low, step)
                floor = floors[step]
                if floor is not None:
                    low = max(low, floor)
                if low >= high:
                    continue
                finer = sources.get(step)
                if finer is not None:
                    written += self._derive_level(step, finer, low, high)
                else:
                    written += self._rollup_level(step, low, high)
        return written

    def _derivations(
        self,
        steps: list[int],
        plans: dict[int, list[tuple[int, int]]],
        floors: dict[int, int | None],
    ) -> dict[int, int]:
        """Which levels are derived from which finer one (coarsest first, so a level's ranges
        join those of the level it is derived from before that one's are extended in turn).
        The finer level recomputes those ranges on every backend, derived or not, so the
        levels count the same late points."""
        sources: dict[int, int] = {}
        for index in range(len(steps) - 1, 0, -1):
            step, finer = steps[index], steps[index - 1]
            fine_floor, floor = floors[finer], floors[step]
            if step % finer or (fine_floor is not None and (floor is None or fine_floor > floor)):
                continue  # the finer level's rows do not cover this level's buckets
            plans[finer] = plans[finer] + plans[step]
            if self.derives_levels:
                sources[step] = finer
        return sources

    # Whether _derive_level computes a level from a finer one's rows (else from raw points).
    derives_levels: ClassVar[bool] = False

    def _derive_level(self, level: int, finer: int, start: int, end: int) -> int:
        """Recompute ``level``'s buckets in ``[start, end)`` from ``finer``'s rows there
        (which are up to date); by default from raw points."""
        return self._rollup_level(level, start, end)

    def _delete_and_refresh(self, filters: MetricFilters) -> int:
        """Delete the matching raw points, then recompute every rolled-up bucket they were
        in, so no read from rollups answers with deleted points. (Buckets whose raw points were
        pruned hold no raw points to delete. Should this be interrupted between the two, the
        next prune finds those buckets by their point counts and recomputes them before it
        deletes their raw points.)"""
        states = self._rollup_states() if self._may_have_rollups() else {}
        levels = sorted(
            level
            for level, state in states.items()
            if level != RAW and state.complete_until is not None
        )
        span = self._time_span(filters) if levels else None
        deleted = self._delete_metrics(filters)
        if not deleted or span is None:
            return deleted
        raw_floor = states.get(RAW, LevelState()).pruned_before
        for level in levels:  # finest first: coarser levels may be derived from finer ones
            state = states[level]
            assert state.complete_until is not None
            low = floor_to(span[0], level)
            high = min(floor_to(span[1], level) + level, state.complete_until)
            for floor in (raw_floor, state.pruned_before):
                if floor is not None:
                    low = max(low, ceil_to(floor, level))
            if low < high:
                self._rollup_level(level, low, high)
        return deleted

    # --- reads ---------------------------------------------------------------------------
    def _aggregate_by_source(
        self, aggregation: Aggregation, filters: MetricFilters
    ) -> tuple[list[AggregatePoint], bool]:
        """The points, and whether they are in the contract's order already."""
        if aggregation.ranked:
            return self._ranked_by_source(aggregation, filters), True
        if aggregation.source == "raw":
            return self._aggregate_raw(aggregation, filters)
        start = MIN_US if filters.start_time is None else to_epoch_us(filters.start_time)
        end = MAX_US if filters.end_time is None else to_epoch_us(filters.end_time) + 1
        interval = None if aggregation.interval is None else aggregation.interval // _US
        if aggregation.source == "auto" and not self._may_have_rollups():
            return self._aggregate_raw(aggregation, filters)
        pieces = plan(
            aggregation.source,
            interval,
            start,
            end,
            self._rollup_states(),
            traced=filters.trace_id is not None,
        )
        if len(pieces) == 1 and pieces[0].level == RAW:
            return self._aggregate_raw(aggregation, filters)
        if len(pieces) == 1 and aggregation.type != "histogram":
            # Backends order rollup answers as they order raw ones.
            piece = pieces[0]
            rolled = self._aggregate_rollups(piece.level, aggregation, _narrow(filters, piece))
            return rolled, self.aggregates_sorted
        points: list[AggregatePoint] = []
        for piece in pieces:
            narrowed = _narrow(filters, piece)
            if piece.level == RAW:
                points += self._aggregate_raw(aggregation, narrowed)[0]
            else:
                points += self._aggregate_rollups(piece.level, aggregation, narrowed)
        return points, False

    def _ranked_by_source(
        self, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        """A ranked aggregate from one source, which ranks it: a ranking needs each group's
        value over the whole range, which one rollup level gives for every aggregation but
        percentiles (read from sketches in Python), and which pieces of different sources
        cannot. So "auto" answers from raw points then, when they are all still stored, and
        "rollup" refuses."""
        if aggregation.source == "raw" or (
            aggregation.source == "auto" and not self._may_have_rollups()
        ):
            return self._aggregate_metrics(aggregation, filters)
        start = MIN_US if filters.start_time is None else to_epoch_us(filters.start_time)
        end = MAX_US if filters.end_time is None else to_epoch_us(filters.end_time) + 1
        interval = None if aggregation.interval is None else aggregation.interval // _US
        states = self._rollup_states()
        pieces = plan(
            aggregation.source, interval, start, end, states, traced=filters.trace_id is not None
        )
        if len(pieces) == 1 and pieces[0].level == RAW:
            return self._aggregate_metrics(aggregation, filters)
        if len(pieces) == 1 and aggregation.type != "percentile":
            piece = pieces[0]
            return self._aggregate_rollups(piece.level, aggregation, _narrow(filters, piece))
        pruned = states.get(RAW, LevelState()).pruned_before
        if aggregation.source == "auto" and (pruned is None or pruned <= start):
            return self._aggregate_metrics(aggregation, filters)
        what = "a percentile" if aggregation.type == "percentile" else "several sources"
        raise InvalidArgumentError(
            f"order={aggregation.order!r} cannot rank {what} from rollups (source="
            f"{aggregation.source!r}): use source='raw', or a range one rollup level covers"
        )

    def _aggregate_raw(
        self, aggregation: Aggregation, filters: MetricFilters
    ) -> tuple[list[AggregatePoint], bool]:
        if aggregation.type == "histogram":
            return self._raw_histograms(aggregation, filters), False
        return self._aggregate_metrics(aggregation, filters), self.aggregates_sorted

    def _raw_histograms(
        self, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        """``type="histogram"`` from raw points: read in batches, summed in Python (the
        points' bucket counts are JSON documents)."""
        return histograms_from_points(aggregation, self._iter_metrics(filters, 10_000))

    def _may_have_rollups(self) -> bool:
        """Cheap check before planning (backends may answer from a cache)."""
        return True

    # --- backend hooks -------------------------------------------------------------------
    @abstractmethod
    def _aggregate_metrics(
        self, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]: ...

    @abstractmethod
    def _aggregate_rollups(
        self, level: int, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        """The aggregate from ``level``'s rows whose bucket starts in ``filters``' time range
        (whole level buckets: the planner aligned it)."""

    @abstractmethod
    def _delete_metrics(self, filters: MetricFilters) -> int: ...

    @abstractmethod
    def _time_span(self, filters: MetricFilters) -> tuple[int, int] | None:
        """The earliest and latest timestamp of the points matching ``filters`` (None when
        none does)."""

    @abstractmethod
    def _iter_metrics(self, filters: MetricFilters, batch_size: int) -> Iterator[MetricRecord]: ...

    @abstractmethod
    def _rollup_states(self) -> dict[int, LevelState]: ...

    @abstractmethod
    def _set_state(self, level: int, *, pruned_before: int) -> None:
        """Raise (never lower) the level's ``pruned_before``."""

    @abstractmethod
    def _oldest_point(self) -> int | None: ...

    @abstractmethod
    def _stale_ranges(self, level: int, start: int, end: int) -> list[tuple[int, int]]:
        """Ranges of ``level``'s buckets in ``[start, end)`` whose stored point counts differ
        from their raw points' (see ``stale_ranges``)."""

    @abstractmethod
    def _rollup_level(self, level: int, start: int, end: int) -> int:
        """Recompute ``level``'s buckets in ``[start, end)`` (aligned) from raw points, in
        transactions of bounded size that each raise the watermark; rows written."""

    @abstractmethod
    def _delete_points_before(self, before: int) -> int: ...

    @abstractmethod
    def _delete_rollups_before(self, level: int, before: int) -> int: ...

    @abstractmethod
    def _delete_traces_before(self, before: int) -> tuple[int, int]:
        """Delete every span of each trace whose root span started before ``before``;
        returns (traces, spans) deleted."""

    @abstractmethod
    def _count_points_before(self, before: int) -> int: ...

    @abstractmethod
    def _count_rollups_before(self, level: int, before: int) -> int: ...

    @abstractmethod
    def _count_traces_before(self, before: int) -> tuple[int, int]: ...

    def _reclaim_space(self) -> None:  # noqa: B027 (optional hook: nothing by default)
        """Return freed space to the filesystem where the backend needs asking."""


def pause() -> None:
    """Between two batch transactions: lets writers waiting on an in-process write lock (which
    is not fair) take it, so a long prune never holds them off for more than one batch."""
    time.sleep(BATCH_PAUSE_SECONDS)


def stale_ranges(raw: dict[int, int], rolled: dict[int, int], level: int) -> list[tuple[int, int]]:
    """Merged ranges of the buckets (starts, in microseconds) whose raw point count differs
    from the count their rollup rows hold."""
    stale = sorted(b for b in raw.keys() | rolled.keys() if raw.get(b, 0) != rolled.get(b, 0))
    return _merge([(b, b + level) for b in stale])


def _narrow(filters: MetricFilters, piece: Piece) -> MetricFilters:
    return filters.model_copy(
        update={
            "start_time": None if piece.start == MIN_US else from_epoch_us(piece.start),
            "end_time": None if piece.end == MAX_US else from_epoch_us(piece.end - 1),
        }
    )


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(r for r in ranges if r[0] < r[1]):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


__all__ = ["BATCH_ROWS", "RollupStorage", "as_policy", "pause", "stale_ranges"]
