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
from bench.places import driver_target, file_url, is_server, is_sql
from bench.timing import timed
from obsstore import ObservabilityStorage, create_storage

_counter = itertools.count()


class Place:
    """Where one backend's trials write: a new file per trial, or a truncated PostgreSQL table."""

    def __init__(self, kind: str, directory: str, postgres_url: str | None) -> None:
        self.kind, self.directory, self.postgres_url = kind, directory, postgres_url

    def fresh(self) -> str:
        """The URL of an empty, migrated obsstore schema."""
        if not is_sql(self.kind):
            return self.kind
        if is_server(self.kind):
            assert self.postgres_url is not None
            url = self.postgres_url
        else:
            url = file_url(self.kind, self.directory, f"trial{next(_counter)}")
        with create_storage(url) as storage:
            storage.init()
            if is_server(self.kind):
                storage.engine.dispose()
                with storage.engine.begin() as connection:
                    connection.execute(sa.text("TRUNCATE obsstore_metrics, obsstore_spans"))
        return url


def obsstore_trial(
    place: Place,
    batches: Sequence[Sequence[Any]],
    write: Callable[[ObservabilityStorage, Sequence[Any]], int],
    stored: Callable[[ObservabilityStorage], int],
) -> Trial:
    """obsstore writing ``batches`` with ``write`` into a fresh storage; ``stored`` counts what
    landed, which must be every item."""
    state: dict[str, ObservabilityStorage] = {}
    expected = sum(map(len, batches))

    def setup() -> None:
        storage = create_storage(place.fresh())
        storage.init()  # opens the pool's connection outside the timed part
        state["storage"] = storage

    def run() -> int:
        storage = state["storage"]
        return sum(write(storage, batch) for batch in batches)

    return Trial(setup, run, lambda: _finish(state["storage"], stored, expected))


def _finish(
    storage: ObservabilityStorage, stored: Callable[[ObservabilityStorage], int], expected: int
) -> None:
    count = stored(storage)
    storage.close()
    if count != expected:
        raise AssertionError(f"{storage.kind}: stored {count}, expected {expected}")


def raw_trial(
    place: Place,
    items: Sequence[Any],
    batch_size: int,
    ingest: str,
    stored: Callable[[ObservabilityStorage], int],
) -> Trial:
    """The raw driver's ``bench.baselines.<kind>.<ingest>`` writing ``items`` into a fresh
    schema; checked afterwards through obsstore with ``stored``."""
    from importlib import import_module

    driver = import_module(f"bench.baselines.{place.kind}")
    state: dict[str, Any] = {}

    def setup() -> None:
        url = place.fresh()
        state["url"], state["connection"] = url, driver.connect(driver_target(place.kind, url))

    def run() -> None:
        getattr(driver, ingest)(state["connection"], items, batch_size)

    def finish() -> None:
        state["connection"].close()
        with create_storage(state["url"]) as storage:
            _finish(storage, stored, len(items))

    return Trial(setup, run, finish)


def _count_points(storage: ObservabilityStorage) -> int:
    return storage.count_metrics()


def _write_points(storage: ObservabilityStorage, batch: Sequence[Any]) -> int:
    return storage.batch_record_metrics(batch)


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
            "obsstore_records": obsstore_trial(place, record_batches, _write_points, _count_points),
            "obsstore_dicts": obsstore_trial(place, dict_batches, _write_points, _count_points),
        }
        if is_sql(kind):
            trials["raw"] = raw_trial(place, records, batch_size, "ingest", _count_points)
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
