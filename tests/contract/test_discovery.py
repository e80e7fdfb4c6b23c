"""Metric names, label keys and label values, in code-point order on every backend."""

from __future__ import annotations

import pytest

from obsstore import InvalidArgumentError, MetricsStorage
from tests.contract.helpers import point


@pytest.fixture
def catalog(storage: MetricsStorage) -> MetricsStorage:
    storage.batch_record_metrics(
        [
            point("1", name="http.requests", labels={"route": "/b", "Method": "GET"}),
            point("2", name="http.duration", labels={"route": "/a", "status": "200"}),
            point("3", name="HTTP.legacy", labels={"route": "/A"}),
            point("4", name="http_x", labels={"zone": "eu"}),
            point("5", name="http%y", labels={"route": "100%"}),
            point("6", name="jobs", labels={"route": "/b", "é": "1"}),
            point("7", name="ßeta"),
        ]
    )
    return storage


def test_metric_names(catalog: MetricsStorage) -> None:
    assert catalog.list_metric_names() == [
        "HTTP.legacy",
        "http%y",
        "http.duration",
        "http.requests",
        "http_x",
        "jobs",
        "ßeta",
    ]
    assert catalog.list_metric_names(prefix="http.") == ["http.duration", "http.requests"]
    assert catalog.list_metric_names(prefix="http") == [
        "http%y",
        "http.duration",
        "http.requests",
        "http_x",
    ]
    assert catalog.list_metric_names(prefix="http_") == ["http_x"]  # "_" is literal
    assert catalog.list_metric_names(prefix="http%") == ["http%y"]  # "%" is literal
    assert catalog.list_metric_names(prefix="HTTP") == ["HTTP.legacy"]  # case-sensitive
    assert catalog.list_metric_names(prefix="ß") == ["ßeta"]
    assert catalog.list_metric_names(prefix="nothing") == []
    assert catalog.list_metric_names(limit=2) == ["HTTP.legacy", "http%y"]
    assert catalog.list_metric_names(prefix="http", limit=1) == ["http%y"]


def test_label_keys(catalog: MetricsStorage) -> None:
    assert catalog.list_label_keys() == ["Method", "route", "status", "zone", "é"]
    assert catalog.list_label_keys(name="http.duration") == ["route", "status"]
    assert catalog.list_label_keys(name="ßeta") == []
    assert catalog.list_label_keys(name="missing") == []


def test_label_values(catalog: MetricsStorage) -> None:
    assert catalog.list_label_values("route") == ["/A", "/a", "/b", "100%"]
    assert catalog.list_label_values("route", name="jobs") == ["/b"]
    assert catalog.list_label_values("route", prefix="/") == ["/A", "/a", "/b"]
    assert catalog.list_label_values("route", prefix="/a") == ["/a"]
    assert catalog.list_label_values("route", prefix="100%") == ["100%"]
    assert catalog.list_label_values("route", limit=2) == ["/A", "/a"]
    assert catalog.list_label_values("missing") == []
    assert catalog.list_label_values("é") == ["1"]


def test_discovery_arguments_are_checked(storage: MetricsStorage) -> None:
    with pytest.raises(InvalidArgumentError):
        storage.list_metric_names(limit=0)
    with pytest.raises(InvalidArgumentError):
        storage.list_metric_names(prefix="a\x00")
    with pytest.raises(InvalidArgumentError):
        storage.list_label_values("")
    with pytest.raises(InvalidArgumentError):
        storage.list_label_values("k", limit=True)
