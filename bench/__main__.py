"""``python -m bench``: obsstore against the raw drivers, every backend, one run, one table.

Sizes come from flags or the environment (OBSSTORE_BENCH_INGEST_POINTS, ..._QUERY_POINTS,
..._REPEATS); ``--quick`` is a small run for development. See bench/README.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import footprint, queries, report, spans, workload
from bench.places import driver_target, file_url, is_server, is_sql
from bench.postgres import find_server, scratch_database
from obsstore import create_storage, registry

BACKENDS = registry.kinds()
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(f"OBSSTORE_BENCH_{name}", default))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 / 100,000 points, 2 repeats")
    parser.add_argument("--ingest-points", type=int, default=_env_int("INGEST_POINTS", 200_000))
    parser.add_argument("--query-points", type=int, default=_env_int("QUERY_POINTS", 1_000_000))
    parser.add_argument(
        "--footprint-points", type=int, default=_env_int("FOOTPRINT_POINTS", 100_000)
    )
    parser.add_argument("--spans", type=int, default=_env_int("SPANS", spans.SPANS))
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--ingest-repeats", type=int, default=_env_int("INGEST_REPEATS", 3))
    parser.add_argument("--query-repeats", type=int, default=_env_int("QUERY_REPEATS", 5))
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated subset")
    parser.add_argument(
        "--skip", default="", help="comma-separated: ingest,queries,footprint,spans,hotpath"
    )
    parser.add_argument(
        "--growth",
        action="store_true",
        help="also the growth rows (1M and 10M stored points per SQL backend; ~9 min here)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.ingest_points, args.query_points, args.footprint_points = 20_000, 100_000, 20_000
        args.spans = 10_000
        args.ingest_repeats, args.query_repeats = 2, 3
    args.backends = [b for b in args.backends.split(",") if b]
    args.skip = set(filter(None, args.skip.split(",")))
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def per_backend(
    args: argparse.Namespace, postgres: str | None, module: str, arguments: list[str]
) -> dict[str, Any]:
    """``python -m MODULE KIND ARGUMENTS... [POSTGRES_URL]`` for each backend, each in a process
    of its own (so that its peak memory is its own); their JSON output by backend."""
    results = {}
    for kind in args.backends:
        log(f"{module}: {kind}, {' '.join(arguments)}")
        with ExitStack() as stack:
            command = [sys.executable, "-m", module, kind, *arguments]
            if is_server(kind):
                assert postgres is not None
                command.append(stack.enter_context(scratch_database(postgres)))
            done = subprocess.run(command, check=True, capture_output=True, text=True)
        results[kind] = json.loads(done.stdout)
    return results


def query_rows(args: argparse.Namespace, postgres: str | None) -> dict[str, Any]:
    from importlib import import_module

    results: dict[str, Any] = {}
    with ExitStack() as stack:
        directory = stack.enter_context(tempfile.TemporaryDirectory(prefix="obsstore-bench-"))
        urls = {}
        for kind in args.backends:
            if is_server(kind):
                assert postgres is not None
                urls[kind] = stack.enter_context(scratch_database(postgres))
            else:
                urls[kind] = file_url(kind, directory, "queries")
        storages = {}
        for kind in args.backends:
            storages[kind] = stack.enter_context(create_storage(urls[kind]))
            storages[kind].init()
        log(f"queries: storing {args.query_points:,} points in {', '.join(storages)}")
        for chunk in workload.chunks(args.query_points, args.batch_size):
            for storage in storages.values():
                storage.batch_record_metrics(chunk)
        for kind, storage in storages.items():
            queries.analyze(storage)
            baseline = None
            if is_sql(kind):
                driver = import_module(f"bench.baselines.{kind}")
                baseline = driver.open_queries(driver_target(kind, urls[kind]))
            log(f"queries: {kind}")
            results[kind] = queries.run(storage, baseline, args.query_repeats)
            if baseline is not None:
                baseline.close()
    reference = results.get("memory")
    for kind, rows in results.items():
        for row, entry in rows.items():
            if reference is not None and kind != "memory":
                entry["same_as_memory"] = queries.same_answer(
                    entry["answer"], reference[row]["answer"]
                )
    for rows in results.values():
        for entry in rows.values():
            del entry["answer"]
    return results


def main(argv: list[str]) -> int:
    args = parse(argv)
    began = time.perf_counter()
    servers = [kind for kind in args.backends if is_server(kind)]
    server = find_server() if servers else None
    if servers and server is None:
        log(f"no PostgreSQL server found: skipping {', '.join(servers)}")
        args.backends = [kind for kind in args.backends if kind not in servers]
    postgres = server[0] if server else None
    try:
        results: dict[str, Any] = {
            "settings": {
                key: value for key, value in vars(args).items() if key not in ("output", "skip")
            }
            | {
                "command": "python -m bench " + " ".join(argv),
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
            },
        }
        if "footprint" not in args.skip and "memory" in args.backends:
            log(f"footprint: memory backend, {args.footprint_points:,} points")
            results["bytes_per_point"] = footprint.bytes_per_point(args.footprint_points)
        if "ingest" not in args.skip:
            sizes = [args.ingest_points, args.batch_size, args.ingest_repeats]
            results["ingest"] = per_backend(args, postgres, "bench.ingest", list(map(str, sizes)))
        if "queries" not in args.skip:
            results["queries"] = query_rows(args, postgres)
        if "spans" not in args.skip:
            sizes = [args.spans, spans.BATCH, args.ingest_repeats]
            results["spans"] = per_backend(args, postgres, "bench.spans", list(map(str, sizes)))
        if "hotpath" not in args.skip:
            from bench import hotpath

            log("hotpath: validation alone, record() latency, MLflow log_batch")
            results["hotpath"] = hotpath.main(["--quick"] if args.quick else [])
        if args.growth:
            from bench import growth

            log("growth: 1M and 10M stored points per SQL backend")
            sql_backends = [kind for kind in args.backends if is_sql(kind)]
            results["growth"] = growth.main(["--backends", ",".join(sql_backends)])
    finally:
        if server is not None and server[1] is not None:
            server[1]()
    results["wall_seconds"] = time.perf_counter() - began
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str))
    print(report.markdown(results))
    log(f"done in {results['wall_seconds']:.0f} s; JSON in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
