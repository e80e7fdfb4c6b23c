"""Peak memory of one big batch write, per backend: each backend runs in a fresh subprocess that
builds the records (every label value distinct), notes its peak RSS, writes the batch in one
call and notes the peak again. The growth, divided by the label text the batch carries, is how
many copies of that text the write path holds at once.

    python -m bench.batch_rss [--records 2000] [--labels 64] [--chars 4096] [backend ...]

PostgreSQL uses OBSSTORE_TEST_POSTGRES_URL (or the local server the tests use)."""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

BACKENDS = ("memory", "sqlite", "duckdb", "postgresql")
MIB = 1024 * 1024


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def _measure(backend: str, url: str, records: int, labels: int, chars: int) -> dict[str, float]:
    from obsstore import MetricRecord, create_storage

    moment = datetime(2024, 1, 1, tzinfo=timezone.utc)
    batch = [
        MetricRecord(
            id=f"r{i}",
            timestamp=moment,
            name="big.labels",
            value=float(i),
            labels={f"k{k:02d}": f"{i:08d}{k:02d}".ljust(chars, "x") for k in range(labels)},
        )
        for i in range(records)
    ]
    with create_storage(url) as storage:
        storage.init()
        storage.dangerously_clear_all()
        before = _peak_rss()
        assert storage.batch_record_metrics(batch) == records
        after = _peak_rss()
    del batch, storage
    gc.collect()
    text = records * labels * chars
    return {
        "label_text_mib": text / MIB,
        "rss_before_mib": before / MIB,
        "peak_rss_mib": after / MIB,
        "growth_mib": (after - before) / MIB,
        "growth_per_text": (after - before) / text,
        # What the process still holds once the records are gone and the storage is closed.
        "held_after_mib": _current_rss() / MIB,
    }


def _current_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


@contextmanager
def _url(backend: str, directory: Path) -> Iterator[str]:
    if backend == "memory":
        yield "memory"
    elif backend == "sqlite":
        yield f"sqlite:///{directory / 'rss.db'}"
    elif backend == "duckdb":
        yield f"duckdb:///{directory / 'rss.duckdb'}"
    else:
        from devtools.postgres import find_server, scratch_database

        server = find_server()
        if server is None:
            raise SystemExit("no PostgreSQL server")
        with scratch_database(server.url) as url:
            yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--labels", type=int, default=64)
    parser.add_argument("--chars", type=int, default=4096)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("backends", nargs="*", default=list(BACKENDS))
    args = parser.parse_args()
    if args.child:
        backend, url = json.loads(args.child)
        print(json.dumps(_measure(backend, url, args.records, args.labels, args.chars)))
        return
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as directory, _url(backend, Path(directory)) as url:
            child = json.dumps([backend, url])
            size = ["--records", str(args.records), "--labels", str(args.labels)]
            size += ["--chars", str(args.chars)]
            output = subprocess.run(
                [sys.executable, "-m", "bench.batch_rss", *size, "--child", child],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        result = json.loads(output.splitlines()[-1])
        print(
            f"{backend:10} label text {result['label_text_mib']:7.0f} MiB  "
            f"rss before {result['rss_before_mib']:7.0f} MiB  "
            f"peak {result['peak_rss_mib']:7.0f} MiB  "
            f"growth {result['growth_mib']:7.0f} MiB = {result['growth_per_text']:.2f} x text  "
            f"held after close {result['held_after_mib']:5.0f} MiB"
        )


if __name__ == "__main__":
    main()
