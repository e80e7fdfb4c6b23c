"""A writer process for the spool tests: ``python -m tests.writer.spool_child URL SPOOL COUNT
BATCH_SIZE WAIT_STORED [fork]``. Records COUNT points (ids ``k-000000`` ...), waits until at
least WAIT_STORED of them are stored, prints its stats as JSON and then blocks until killed.
With ``fork`` it first forks a child that just sleeps (its pid is printed as ``sleeper``)."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time

from obsstore import MetricsWriter, create_storage
from tests.writer.helpers import points


def main(url: str, spool: str, count: int, batch_size: int, wait_stored: int, fork: bool) -> None:
    storage = create_storage(url)
    storage.init()
    writer = MetricsWriter(
        storage, batch_size=batch_size, flush_interval=3_600_000, spool_dir=spool
    )
    for record in points(count, prefix="k"):
        writer.record(record)
    deadline = time.monotonic() + 20
    while writer.stats().stored < wait_stored and time.monotonic() < deadline:
        time.sleep(0.005)
    report = dataclasses.asdict(writer.stats())
    if fork:
        sleeper = os.fork()
        if sleeper == 0:
            quiet = os.open(os.devnull, os.O_RDWR)
            os.dup2(quiet, 0)  # let the test's pipes close when the parent dies
            os.dup2(quiet, 1)
            time.sleep(60)  # outlives the parent, holding whatever descriptors it inherited
            os._exit(0)
        report["sleeper"] = sleeper
    print(json.dumps(report), flush=True)
    sys.stdin.read()  # the test kills this process with SIGKILL


if __name__ == "__main__":
    count, batch_size, wait_stored = (int(arg) for arg in sys.argv[3:6])
    main(sys.argv[1], sys.argv[2], count, batch_size, wait_stored, sys.argv[6:] == ["fork"])
