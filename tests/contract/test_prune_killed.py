"""A prune killed with SIGKILL mid-way, then run again, ends in the state an uninterrupted
prune reaches (the memory backend's, from the same data), on every SQL backend."""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from obsstore import ObservabilityStorage, SpanRecord, create_storage
from tests.contract.prune_child import NOW, POLICY, START

ROOT = Path(__file__).resolve().parents[2]


def load(storage: ObservabilityStorage) -> None:
    rng = random.Random(3)
    storage.batch_record_metrics(
        [
            {
                "id": f"p{i}",
                "timestamp": START + timedelta(seconds=rng.randrange(20 * 86_400)),
                "name": rng.choice(["a", "b"]),
                "value": rng.uniform(-5, 100),
                "labels": {"route": rng.choice(["/x", "/y"])},
            }
            for i in range(6_000)
        ]
    )
    storage.batch_create_spans(
        [
            SpanRecord(
                trace_id=f"t{t}",
                span_id=f"s{k}",
                parent_span_id=None if k == 0 else "s0",
                name="op",
                span_type="agent_run",
                started_at=START + timedelta(hours=6 * t + k),
            )
            for t in range(80)
            for k in range(3)
        ]
    )


def state(storage: ObservabilityStorage) -> dict[str, Any]:
    ids = sorted(r.id for r in storage.list_metrics(pagination={"limit": 10_000}).data)
    answers = {}
    for interval in ("1h", "1d"):
        for kind in ("count", "sum", "min", "max", "last", "avg"):
            points = storage.aggregate_metrics(
                {"type": kind, "interval": interval, "group_by": ["route"]}
            )
            answers[kind, interval] = [
                (p.name, p.timestamp, p.group, p.count, p.value) for p in points
            ]
    traces = sorted(t.trace_id for t in storage.list_traces(pagination={"limit": 1000}).data)
    return {"ids": ids, "answers": answers, "traces": traces}


def assert_same_state(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert actual["ids"] == expected["ids"]
    assert actual["traces"] == expected["traces"]
    for key, points in expected["answers"].items():
        got = actual["answers"][key]
        assert [p[:4] for p in got] == [p[:4] for p in points], key
        for a, e in zip(got, points, strict=True):
            assert math.isclose(a[4], e[4], rel_tol=1e-9, abs_tol=1e-9), key


def test_prune_killed_and_run_again(sql_url: str) -> None:
    with create_storage("memory") as reference:
        load(reference)
        reference.prune(POLICY, now=NOW)
        expected = state(reference)
    with create_storage(sql_url) as storage:
        storage.init()
        storage.dangerously_clear_all()
        load(storage)
        before = state(storage)
    total, kept = len(before["ids"]), len(expected["ids"])
    # First while rolling up, then (until one lands there) while raw points are deleted.
    kill_points = [("ready", 0.1)] + [("deleting", 0.02 * k) for k in range(6)]
    interrupted_deletion = False
    for phase, delay in kill_points:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.contract.prune_child", sql_url, "150"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        if phase == "deleting":
            assert child.stdout.readline().strip() == "deleting"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        if phase == "deleting":
            with create_storage(sql_url) as storage:
                left = storage.count_metrics()
            if kept < left < total and child.returncode == -signal.SIGKILL:
                interrupted_deletion = True
                break
    assert interrupted_deletion, "no kill landed while raw points were being deleted"
    with create_storage(sql_url) as storage:
        storage.prune(POLICY, now=NOW)
        resumed = state(storage)
    assert_same_state(resumed, expected)
    # And what daily buckets answer is what they answered before anything was pruned.
    for kind in ("count", "sum", "min", "max", "last", "avg"):
        key = (kind, "1d")
        assert [p[:4] for p in resumed["answers"][key]] == [p[:4] for p in before["answers"][key]]
        for a, e in zip(resumed["answers"][key], before["answers"][key], strict=True):
            assert math.isclose(a[4], e[4], rel_tol=1e-9, abs_tol=1e-9), key
