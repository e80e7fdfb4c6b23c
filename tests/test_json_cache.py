"""The JSON text cache of the bulk-write paths stays bounded however big the label sets are."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from obsstore import MetricRecord
from obsstore.storage import bulk


def records(count: int, chars: int, tag: str, labels: int = 1) -> list[MetricRecord]:
    moment = datetime(2024, 1, 1, tzinfo=timezone.utc)
    return [
        MetricRecord(
            id=f"{tag}{i}",
            timestamp=moment,
            name="m",
            value=1.0,
            labels={f"k{j}": f"{tag}{i}".ljust(chars, "x") for j in range(labels)},
        )
        for i in range(count)
    ]


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    bulk._labels_json.texts.clear()
    bulk._labels_json.size = 0


def test_huge_label_sets_are_encoded_but_not_kept() -> None:
    batch = records(3, 4096, "huge", labels=64)
    texts = bulk.labels_json(batch)
    assert [len(t) for t in texts] == [len(bulk.dump_json(r.labels)) for r in batch]
    assert bulk._labels_json.texts == {}


def test_small_label_sets_are_kept() -> None:
    texts = bulk.labels_json(records(3, 10, "small"))
    assert sorted(bulk._labels_json.texts.values()) == sorted(texts)
    assert bulk._labels_json.size == sum(map(len, texts))


def test_cached_text_stays_under_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "_CACHE_TEXT_BUDGET", 10_000)
    for batch in range(5):
        texts = bulk.labels_json(records(20, 1000, f"b{batch}-"))
        assert all(t.startswith('{"k0":"b') for t in texts)
        assert bulk._labels_json.size == sum(map(len, bulk._labels_json.texts.values()))
        assert bulk._labels_json.size <= 10_000
