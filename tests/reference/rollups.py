"""The reference model keeps raw points only: it never has rollups, so every aggregate it
answers comes from raw points. Rollups are held to raw answers on each backend by
``tests/contract/test_rollups.py`` (``source="rollup"`` against ``source="raw"``); the
rollup and prune hooks here say so rather than pretend."""

from __future__ import annotations

from typing import Any, NoReturn

from obsstore.lifecycle.planning import LevelState
from obsstore.models import AggregatePoint, Aggregation, MetricFilters
from obsstore.storage.rollups_base import RollupStorage


def _not_modelled(*args: Any) -> NoReturn:
    raise NotImplementedError("the reference model keeps raw points only: no rollups, no prune")


class NoRollups(RollupStorage):
    def _may_have_rollups(self) -> bool:
        return False

    def _rollup_states(self) -> dict[int, LevelState]:
        return {}

    def _aggregate_rollups(
        self, level: int, aggregation: Aggregation, filters: MetricFilters
    ) -> list[AggregatePoint]:
        _not_modelled()

    def _time_span(self, filters: MetricFilters) -> tuple[int, int] | None:
        _not_modelled()

    def _set_state(self, level: int, *, pruned_before: int) -> None:
        _not_modelled()

    def _oldest_point(self) -> int | None:
        _not_modelled()

    def _stale_ranges(self, level: int, start: int, end: int) -> list[tuple[int, int]]:
        _not_modelled()

    def _rollup_level(self, level: int, start: int, end: int) -> int:
        _not_modelled()

    def _delete_points_before(self, before: int) -> int:
        _not_modelled()

    def _delete_rollups_before(self, level: int, before: int) -> int:
        _not_modelled()

    def _delete_traces_before(self, before: int) -> tuple[int, int]:
        _not_modelled()

    def _count_points_before(self, before: int) -> int:
        _not_modelled()

    def _count_rollups_before(self, level: int, before: int) -> int:
        _not_modelled()

    def _count_traces_before(self, before: int) -> tuple[int, int]:
        _not_modelled()
