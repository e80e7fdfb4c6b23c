"""A pruning process for the SIGKILL test: ``python -m tests.contract.prune_child URL BATCH``.
Prunes with the test's policy and clock in transactions of BATCH rows, printing ``ready``
first, ``deleting`` when raw points start to go, and ``done`` at the end (the test kills it
somewhere in between)."""

from __future__ import annotations

import sys
from datetime import timedelta

from obsstore import RetentionPolicy, RollupLevel, create_storage
from obsstore.storage import rollups_base, sql_rollups
from tests.contract.helpers import T0

START = T0.replace(hour=0)
NOW = START + timedelta(days=20)
POLICY = RetentionPolicy(
    raw="7d",
    rollups=[RollupLevel(interval="1h", keep="10d"), RollupLevel(interval="1d")],
    traces="5d",
)


def main(url: str, batch: int) -> None:
    # Small transactions, so that a kill lands between two of them more often than not.
    rollups_base.BATCH_ROWS = sql_rollups.BATCH_ROWS = batch
    sql_rollups.TRACE_BATCH = 5
    with create_storage(url) as storage:
        if hasattr(storage, "delete_batch_rows"):
            storage.delete_batch_rows = batch  # a backend's own delete batch size too
        if hasattr(storage, "rollup_batch_points"):
            storage.rollup_batch_points = batch  # and its rollup transactions
        delete_points = storage._delete_points_before

        def announced(before: int) -> int:
            print("deleting", flush=True)  # the test may kill between two delete batches
            return delete_points(before)

        storage._delete_points_before = announced  # type: ignore[method-assign]
        print("ready", flush=True)
        storage.prune(POLICY, now=NOW)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
