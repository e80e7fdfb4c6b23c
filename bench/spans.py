"""Row 6, spans ingest: ``batch_create_spans`` of 50,000 spans with about 1 KB of JSON each,
against the raw driver's fastest path into the same table from the same ``SpanRecord``s.

Runs in a process of its own: ``python -m bench.spans KIND SPANS BATCH REPEATS [POSTGRES_URL]``
prints JSON. Each trial writes into a freshly migrated, empty table, in rotating order."""

from __future__ import annotations

import json
import random
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from bench.ingest import Place, obsstore_trial, raw_trial, run_trials
from bench.places import is_sql
from obsstore import ObservabilityStorage, SpanRecord

SPANS = 50_000
BATCH = 5_000
START = datetime(2026, 11, 1, tzinfo=timezone.utc)
_WORDS = (
    "the agent plans a trip to lisbon in may checks flights hotels weather budget and "
    "calls tools search calculator calendar before answering the user with a summary"
).split()
_TYPES = ["agent_run", "model_generation", "tool_call", "tool_call", "workflow_step"]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def workload(count: int, seed: int = 6) -> list[SpanRecord]:
    """Traces of 10 spans (a root agent run and its steps), ~1 KB of JSON per span across
    input, output, metadata, attributes and scope."""
    rng = random.Random(seed)
    spans = []
    for i in range(count):
        trace, step = divmod(i, 10)
        started = START + timedelta(milliseconds=37 * i)
        failed = step and rng.random() < 0.03
        spans.append(
            SpanRecord(
                trace_id=f"trace-{trace:07d}",
                span_id=f"span-{step}",
                parent_span_id=None if step == 0 else "span-0",
                name=f"{_TYPES[step % 5]} {step}",
                span_type=_TYPES[step % 5],
                started_at=started,
                ended_at=started + timedelta(milliseconds=rng.randint(5, 900)),
                input={
                    "messages": [
                        {"role": "system", "content": _text(rng, 20)},
                        {"role": "user", "content": _text(rng, 30)},
                    ],
                    "temperature": 0.2,
                    "tools": ["search", "calculator", "calendar"],
                },
                output={"content": _text(rng, 35), "finish_reason": "stop",
                        "usage": {"prompt_tokens": rng.randint(50, 900),
                                  "completion_tokens": rng.randint(10, 400)}},
                error={"message": "tool timed out", "code": 504} if failed else None,
                metadata={"model": rng.choice(["small", "large"]), "attempt": 1,
                          "cached": rng.random() < 0.2},
                attributes={"http.method": "POST", "gen_ai.system": "obsstore-bench",
                            "server.address": "api.example.test"},
                scope={"name": "obsstore-bench", "version": "1.0"},
                tags=["bench", rng.choice(["prod", "staging"])],
                entity_type="agent", entity_name="planner", user_id=f"user-{trace % 97}",
                session_id=f"session-{trace % 331}", environment="prod", service_name="agents",
            )
        )  # fmt: skip
    return spans


def json_bytes(span: SpanRecord) -> int:
    fields = ("input", "output", "error", "metadata", "attributes", "scope", "tags")
    return sum(len(json.dumps(getattr(span, f))) for f in fields if getattr(span, f) is not None)


def stored_spans(storage: ObservabilityStorage) -> int:
    """Spans stored: counted in SQL, or in the memory backend's own dict of traces."""
    engine = getattr(storage, "engine", None)
    if engine is None:
        return sum(map(len, storage._traces.values()))  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM obsstore_spans")).scalar_one())


def _write(storage: ObservabilityStorage, batch: Sequence[Any]) -> int:
    return storage.batch_create_spans(batch)


def main(argv: list[str]) -> dict[str, Any]:
    kind, count, batch_size, repeats = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    postgres_url = argv[4] if len(argv) > 4 else None
    spans = workload(count)
    batches = [spans[i : i + batch_size] for i in range(0, count, batch_size)]
    with tempfile.TemporaryDirectory(prefix="obsstore-bench-spans-") as directory:
        place = Place(kind, directory, postgres_url)
        trials = {"obsstore": obsstore_trial(place, batches, _write, stored_spans)}
        if is_sql(kind):
            trials["raw"] = raw_trial(place, spans, batch_size, "ingest_spans", stored_spans)
        times = run_trials(trials, repeats)
    return {
        "kind": kind,
        "spans": count,
        "batch_size": batch_size,
        "json_bytes_per_span": sum(map(json_bytes, spans[:1000])) / min(count, 1000),
        "seconds": times,
    }


if __name__ == "__main__":
    json.dump(main(sys.argv[1:]), sys.stdout)
