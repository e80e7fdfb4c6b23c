"""prune(reclaim=True) runs the backend's space reclamation after deleting, on every backend."""

from __future__ import annotations

from datetime import timedelta

from obsstore import MetricsStorage, RetentionPolicy, RollupLevel
from tests.contract.helpers import T0


def test_prune_with_reclaim(storage: MetricsStorage) -> None:
    storage.batch_record_metrics(
        [
            {"id": f"p{i}", "timestamp": T0 + timedelta(minutes=i), "name": "m", "value": 1.0}
            for i in range(500)
        ]
    )
    policy = RetentionPolicy(raw="1d", rollups=[RollupLevel(interval="1h")])
    report = storage.prune(policy, now=T0 + timedelta(days=30), reclaim=True)
    assert report.points_deleted == 500 and storage.count_metrics() == 0
    total = storage.aggregate_metrics({"type": "count", "interval": "1h"})
    assert sum(p.count for p in total) == 500
