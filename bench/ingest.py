"""The ingest rows for one backend, run in a process of its own so that its peak memory is its
own: ``python -m bench.ingest KIND POINTS BATCH REPEATS [POSTGRES_URL]`` prints JSON.

Each trial writes every point into a freshly migrated, empty table: obsstore from prebuilt
records, obsstore from plain dicts, and the raw driver from the same prebuilt records, in
rotating order."""

from __future__ import annotations

import itertools
import json
import resource
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from bench import workload
from bench.timing import timed
from obsstore import MetricsStorage, create_storage

_counter = itertools.count()


class Place:
    """Where one backend's trials write: a new file per trial, or a truncated PostgreSQL table."""

    def __init__(self, kind: str, directory: str, postgres_url: str | None) -> None:
        self.kind, self.directory, self.postgres_url = kind, directory, postgres_url

    def fresh(self) -> str:
        """The URL of an empty, migrated obsstore schema."""
        if self.kind == "memory":
            return "memory"
        if self.kind == "postgresql":
            assert self.postgres_url is not None
            url = self.postgres_url
        else:
            suffix = "db" if self.kind == "sqlite" else "duckdb"
            url = f"{self.kind}:///{self.directory}/trial{next(_counter)}.{suffix}"
        with create_storage(url) as storage:
            storage.init()
            if self.kind == "postgresql":
                storage.engine.dispose()
                with storage.engine.begin() as connection:
                    connection.execute(sa.text("TRUNCATE obsstore_metrics, obsstore_spans"))
        return url

    def path(self, url: str) -> str:
        return url.split(":///", 1)[1]


def _obsstore(place: Place, batches: Sequence[Sequence[Any]], expected: int) -> Trial:
    state: dict[str, MetricsStorage] = {}

    def setup() -> None:
        storage = create_storage(place.fresh())
        storage.init()  # opens the pool's connection outside the timed part
        state["storage"] = storage

    def run() -> int:
        storage = state["storage"]
        return sum(storage.batch_record_metrics(batch) for batch in batches)

    return Trial(setup, run, lambda: _finish(state["storage"], expected))


def _finish(storage: MetricsStorage, expected: int) -> None:
    stored = storage.count_metrics()
    storage.close()
    if stored != expected:
        raise AssertionError(f"{storage.kind}: stored {stored} points, expected {expected}")


def _raw(place: Place, records: Sequence[Any], batch_size: int) -> Trial:
    from importlib import import_module

    driver = import_module(f"bench.baselines.{place.kind}")
    state: dict[str, Any] = {}

    def setup() -> None:
        url = place.fresh()
        target = url if place.kind == "postgresql" else place.path(url)
        state["url"], state["connection"] = url, driver.connect(target)

    def run() -> None:
        driver.ingest(state["connection"], records, batch_size)

    def finish() -> None:
        state["connection"].close()
        with create_storage(state["url"]) as storage:
            _finish(storage, len(records))

    return Trial(setup, run, finish)


class Trial:
    """A timed ``run`` whose ``setup`` (fresh schema, connection) and ``finish`` (count check,
    close) happen outside the timing."""

    def __init__(
        self, setup: Callable[[], None], run: Callable[[], Any], finish: Callable[[], None]
    ) -> None:
        self.setup, self.run, self.finish = setup, run, finish


def _rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() // 1024


def main(argv: list[str]) -> dict[str, Any]:
    kind, points, batch_size, repeats = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    postgres_url = argv[4] if len(argv) > 4 else None
    dicts = list(workload.point_dicts(points))
    records = workload.records(dicts)
    record_batches = [records[i : i + batch_size] for i in range(0, points, batch_size)]
    dict_batches = [dicts[i : i + batch_size] for i in range(0, points, batch_size)]
    data_rss = _rss_kib()
    with tempfile.TemporaryDirectory(prefix="obsstore-bench-") as directory:
        place = Place(kind, directory, postgres_url)
        trials = {
            "obsstore_records": _obsstore(place, record_batches, points),
            "obsstore_dicts": _obsstore(place, dict_batches, points),
        }
        if kind != "memory":
            trials["raw"] = _raw(place, records, batch_size)
        times = run_trials(trials, repeats)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "kind": kind,
        "points": points,
        "batch_size": batch_size,
        "seconds": times,
        "data_rss_kib": data_rss,
        "peak_rss_kib": usage.ru_maxrss,
    }


def run_trials(trials: dict[str, Trial], repeats: int) -> dict[str, list[float]]:
    """Every trial once per round, the order rotating each round; seconds per trial."""
    times: dict[str, list[float]] = {name: [] for name in trials}
    names = list(trials)
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            trial = trials[name]
            trial.setup()
            seconds, _ = timed(trial.run)
            trial.finish()
            times[name].append(seconds)
    return times


if __name__ == "__main__":
    json.dump(main(sys.argv[1:]), sys.stdout)
