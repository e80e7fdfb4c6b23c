"""``MetricsWriter.record()`` latency, one configuration per process:
``python bench/record_latency.py URL CALLS THREADS`` prints JSON (every call's nanoseconds
summarised: median, p99, the longest); ``python bench/record_latency.py control CALLS`` times
the same loop without obsstore (see ``control``).

Run as a script, not ``-m``, and importing nothing from ``bench``: ``bench.hotpath`` runs it
once against this checkout and once with ``PYTHONPATH`` pointing at an export of the baseline
revision, so the same code measures both. The collector stays on, as in an application."""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import threading
import time
from array import array
from typing import Any

from obsstore import MetricsWriter, create_storage

ROUTES = [f"/v1/items/{i}" for i in range(50)]
METHODS = ["GET", "POST", "PUT", "DELETE"]


def small_points(count: int, seed: int) -> list[tuple[float, str, str]]:
    """The varying parts of what a request handler records (a value, a route, a method); each
    call's dict is built just before the call, outside its timing, as a handler builds it (so
    the benchmark holds no 100,000 dicts the collector would walk for the writer's account)."""
    rng = random.Random(seed)
    return [
        (
            round(rng.lognormvariate(3.0, 0.8), 3),
            ROUTES[rng.randrange(50)],
            METHODS[rng.randrange(4)],
        )
        for _ in range(count)
    ]


def _calls(writer: MetricsWriter, items: list[tuple[float, str, str]], out: array[int]) -> None:
    record, clock = writer.record, time.perf_counter_ns
    for value, route, method in items:
        item = {
            "name": "http.server.duration",
            "value": value,
            "labels": {"route": route, "method": method},
        }
        start = clock()
        record(item)
        out.append(clock() - start)


# The control's timed window: busy work about as long as a record() call (its target median).
CONTROL_BUSY_NS = 5_000


def control(calls: int) -> dict[str, Any]:
    """The same loop without obsstore: one thread, the same dicts built outside the timing,
    and CONTROL_BUSY_NS of busy work timed per call. Its longest call is what the scheduler
    alone does to a window that size at the machine's load, next to which record()'s is read."""
    clock = time.perf_counter_ns
    out: array[int] = array("q")
    for value, route, method in small_points(calls, 0):
        # Built as _calls builds it (its allocations, and the collections they set off, too).
        item = {
            "name": "http.server.duration",
            "value": value,
            "labels": {"route": route, "method": method},
        }
        start = clock()
        end = start + CONTROL_BUSY_NS
        while clock() < end:
            pass
        out.append(clock() - start)
        del item
    return _summary(sorted(out), threads=1, wall=0.0) | {"stored": calls, "flushed": True}


def _summary(every: list[int], *, threads: int, wall: float) -> dict[str, Any]:
    return {
        "calls": len(every),
        "threads": threads,
        "median_us": statistics.median(every) / 1000,
        "p99_us": every[int(len(every) * 0.99)] / 1000,
        "max_ms": every[-1] / 1e6,
        "wall_s": wall,
    }


def main(argv: list[str]) -> dict[str, Any]:
    if argv[0] == "control":
        return control(int(argv[1]))
    url, calls, threads = argv[0], int(argv[1]), int(argv[2])
    per_thread = calls // threads
    inputs = [small_points(per_thread, seed) for seed in range(threads)]
    storage = create_storage(url)
    storage.init()
    writer = MetricsWriter(storage)
    times: list[array[int]] = [array("q") for _ in range(threads)]
    gc.collect()
    began = time.perf_counter()
    workers = [
        threading.Thread(target=_calls, args=(writer, inputs[i], times[i])) for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - began
    stored_all = writer.flush(timeout=600)
    writer.close()
    stored = storage.count_metrics()
    storage.close()
    every = sorted(t for part in times for t in part)
    return _summary(every, threads=threads, wall=wall) | {"stored": stored, "flushed": stored_all}


if __name__ == "__main__":
    json.dump(main(sys.argv[1:]), sys.stdout)
