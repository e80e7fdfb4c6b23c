"""delete_metrics needs filters; dangerously_clear_all clears everything."""

from __future__ import annotations

import pytest

from obsstore import InvalidArgumentError, MetricFilters, MetricsStorage
from tests.contract.helpers import all_ids, point


def test_delete_by_filters_returns_points_deleted(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(
        [point("a", name="x", labels={"k": "1"}), point("b", name="x"), point("c", name="y")]
    )
    assert storage.delete_metrics(MetricFilters(name="x", labels={"k": "1"})) == 1
    assert all_ids(storage) == ["b", "c"]
    assert storage.delete_metrics({"name": "x"}) == 1
    assert storage.delete_metrics({"name": "x"}) == 0
    assert all_ids(storage) == ["c"]


@pytest.mark.parametrize("filters", [None, {}, MetricFilters(), MetricFilters(labels={})])
def test_delete_without_filters_is_refused(storage: MetricsStorage, filters: object) -> None:
    storage.batch_record_metrics([point("a")])
    with pytest.raises(InvalidArgumentError):
        storage.delete_metrics(filters)  # type: ignore[arg-type]
    assert storage.count_metrics() == 1


def test_deleted_ids_can_be_written_again(storage: MetricsStorage) -> None:
    storage.batch_record_metrics([point("a", value=1)])
    storage.delete_metrics({"name": "http.server.duration"})
    assert storage.batch_record_metrics([point("a", value=2)]) == 1
    assert [r.value for r in storage.list_metrics().data] == [2.0]


def test_clear_all(storage: MetricsStorage) -> None:
    storage.batch_record_metrics([point(str(i)) for i in range(10)])
    storage.dangerously_clear_all()
    assert storage.count_metrics() == 0 and storage.list_metric_names() == []


def test_capabilities_are_data(storage: MetricsStorage) -> None:
    strategy = storage.capabilities.metrics_strategy
    assert strategy.preferred in strategy.supported
    assert {"realtime", "batch"} <= set(strategy.supported)
