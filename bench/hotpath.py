"""The paths users call most, side by side with a baseline in one run (issue 13):

- validation alone: plain dicts validated, batches of 10,000, as ``batch_record_metrics``
  does it (``metric_columns_of``: validated columns out, what the SQL backends write) and as
  ``coerce_records`` does it (``MetricRecord``s out), against pydantic's model path
  (``TypeAdapter(list[MetricRecord])``), in one process, interleaved;
- ``MetricsWriter.record()`` latency: 100,000 calls of a small dict while the writer flushes
  to SQLite, to PostgreSQL, and with 8 threads recording at once (SQLite), each in a process
  of its own (``bench/record_latency.py``), this checkout against the baseline revision
  (default ``main``, exported with ``git archive``), alternating;
- plain dicts, 1,000 per call, obsstore ``batch_record_metrics`` against MLflow's tracking
  store ``log_batch`` (its maximum), SQLite and PostgreSQL, fresh stores per trial. MLflow is
  the optional extra ``bench``; without it the row says so and is skipped.

``python -m bench.hotpath [--quick] [--baseline-ref main]`` prints JSON."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from bench import workload
from bench.postgres import find_server, scratch_database
from bench.timing import interleaved, median
from obsstore import MetricRecord, create_storage
from obsstore.models.dict_columns import metric_columns_of
from obsstore.storage.base import coerce_records

ROOT = Path(__file__).resolve().parent.parent
LATENCY_SCRIPT = Path(__file__).resolve().parent / "record_latency.py"


def log(message: str) -> None:
    print(f"[hotpath {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- validation alone ----------------------------------------------------------------------
def validation(points: int, repeats: int) -> dict[str, Any]:
    dicts = list(workload.point_dicts(points))
    batches = [dicts[i : i + 10_000] for i in range(0, points, 10_000)]
    adapter: TypeAdapter[list[MetricRecord]] = TypeAdapter(list[MetricRecord])
    times, results = interleaved(
        {
            "obsstore": lambda: [metric_columns_of(b) for b in batches],
            "obsstore_records": lambda: [coerce_records(b) for b in batches],
            "pydantic": lambda: [adapter.validate_python(b) for b in batches],
        },
        repeats,
    )
    columns = results.pop("obsstore")
    assert None not in columns  # every batch took the column path
    results["obsstore"] = [c.records() for c in columns]
    for name in ("obsstore", "obsstore_records"):
        assert results[name] == results["pydantic"] or _same_but_defaults(results, name)
    return {"points": points, "seconds": times}


def _same_but_defaults(results: dict[str, Any], name: str) -> bool:
    ours = [r for batch in results[name] for r in batch]
    theirs = [r for batch in results["pydantic"] for r in batch]
    return len(ours) == len(theirs) and all(a == b for a, b in zip(ours, theirs, strict=True))


# --- record() latency ----------------------------------------------------------------------
@contextmanager
def baseline_checkout(ref: str) -> Iterator[Path]:
    """The package (and its migrations) at ``ref``, exported into a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="obsstore-baseline-") as directory:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "obsstore", "alembic"],
            check=True,
            capture_output=True,
        )
        subprocess.run(["tar", "-x", "-C", directory], input=archive.stdout, check=True)
        yield Path(directory)


def _latency_run(url: str, calls: int, threads: int, pythonpath: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    # url "control": the same loop without obsstore (record_latency.control), one thread.
    arguments = ["control", str(calls)] if url == "control" else [url, str(calls), str(threads)]
    done = subprocess.run(
        [sys.executable, str(LATENCY_SCRIPT), *arguments],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),  # not the checkout: its obsstore would shadow the baseline
    )
    result: dict[str, Any] = json.loads(done.stdout)
    if result["stored"] != result["calls"]:
        raise AssertionError(f"{url}: stored {result['stored']} of {result['calls']}")
    return result


def record_latency(
    calls: int, repeats: int, ref: str, postgres: str | None, directory: str
) -> dict[str, Any]:
    configurations = [("sqlite", 1), ("sqlite", 8)] + ([("postgresql", 1)] if postgres else [])
    results: dict[str, Any] = {}
    with baseline_checkout(ref) as checkout:
        for kind, threads in configurations:
            runs: dict[str, list[dict[str, Any]]] = {"obsstore": [], "baseline": [], "control": []}
            for round_ in range(repeats):
                order = [("obsstore", None), ("baseline", checkout)]
                for name, path in order if round_ % 2 == 0 else order[::-1]:
                    log(f"record(): {kind}, {threads} thread(s), {name}")
                    with _fresh_url(kind, postgres, directory) as url:
                        runs[name].append(_latency_run(url, calls, threads, path))
                # What the scheduler alone does to a call at this moment's load.
                runs["control"].append(_latency_run("control", calls, 1, None))
            results[f"{kind}_{threads}"] = {
                "kind": kind,
                "threads": threads,
                "calls": calls,
                "baseline_ref": ref,
                "runs": runs,
                **{
                    f"{name}_{stat}": median([run[stat] for run in runs[name]])
                    for name in runs
                    for stat in ("median_us", "p99_us", "max_ms")
                },
            }
    return results


_files = iter(range(1_000_000))


@contextmanager
def _fresh_url(kind: str, postgres: str | None, directory: str) -> Iterator[str]:
    if kind == "postgresql":
        assert postgres is not None
        with scratch_database(postgres) as url:
            yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    else:
        yield f"sqlite:///{directory}/hot{next(_files)}.db"


# --- MLflow log_batch ----------------------------------------------------------------------
def mlflow_rows(points: int, repeats: int, postgres: str | None, directory: str) -> dict[str, Any]:
    try:
        from mlflow.entities import Metric
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError:
        return {"skipped": "MLflow is not installed (pip install -e '.[bench]')"}
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    dicts = list(workload.point_dicts(points))
    batches = [dicts[i : i + 1000] for i in range(0, points, 1000)]
    results: dict[str, Any] = {}
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    for kind in kinds:
        times: dict[str, list[float]] = {"obsstore": [], "mlflow": []}
        for round_ in range(repeats):
            names = ["obsstore", "mlflow"] if round_ % 2 == 0 else ["mlflow", "obsstore"]
            for name in names:
                log(f"plain dicts, 1,000 per call: {kind}, {name}")
                with _fresh_url(kind, postgres, directory) as url:
                    if name == "obsstore":
                        storage = create_storage(url)
                        storage.init()
                        seconds = _timed(
                            lambda s=storage: [s.batch_record_metrics(b) for b in batches]
                        )
                        assert storage.count_metrics() == points
                        storage.close()
                    else:
                        store = SqlAlchemyStore(url, f"{directory}/artifacts")
                        run_id = _mlflow_run(store)

                        # What a caller holding the same dicts hands MLflow: Metric entities,
                        # built inside the timing as obsstore's validation is.
                        def log_all(store: Any = store, run_id: str = run_id) -> None:
                            for batch in batches:
                                metrics = [
                                    Metric(
                                        d["name"],
                                        d["value"],
                                        int(d["timestamp"].timestamp() * 1000),
                                        0,
                                    )
                                    for d in batch
                                ]
                                store.log_batch(run_id, metrics, [], [])

                        seconds = _timed(log_all)
                        store.engine.dispose()
                    times[name].append(seconds)
        results[kind] = {"points": points, "per_call": 1000, "seconds": times}
    return results


def _mlflow_run(store: Any) -> str:
    experiment = store.create_experiment(f"bench{time.time_ns()}")
    run = store.create_run(experiment, "bench", int(time.time() * 1000), [], "bench")
    return str(run.info.run_id)


def _timed(action: Callable[[], Any]) -> float:
    import gc

    gc.collect()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--baseline-ref", default="main")
    parser.add_argument("--skip", default="", help="comma-separated: validation,record,mlflow")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    calls, repeats = (20_000, 1) if args.quick else (100_000, 3)
    server = find_server()
    postgres = server[0] if server else None
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="obsstore-bench-") as directory:
            if "validation" not in skip:
                log("validation alone")
                results["validation"] = validation(50_000 if args.quick else 200_000, 3)
            if "record" not in skip:
                results["record"] = record_latency(
                    calls, repeats, args.baseline_ref, postgres, directory
                )
            if "mlflow" not in skip:
                results["mlflow"] = mlflow_rows(
                    10_000 if args.quick else 50_000, repeats, postgres, directory
                )
    finally:
        if server is not None and server[1] is not None:
            server[1]()
    return results


if __name__ == "__main__":
    json.dump(main(sys.argv[1:]), sys.stdout, indent=2)
