"""Every listing command's ``--json`` is the library's answer, on every backend; the human
form fits 80 columns; errors are one line with the documented exit status."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

from obsstore.cli.common import jsonable
from tests.cli.conftest import Cli
from tests.cli.data import seed


def _dump(value: object) -> object:
    return json.loads(json.dumps(jsonable(value)))


def _iso(moment: object) -> str:
    return moment.isoformat()  # type: ignore[attr-defined]


def test_names_labels_and_values(cli: Cli) -> None:
    seed(cli.storage)
    storage = cli.storage
    assert cli.json("metrics", "names") == storage.list_metric_names()
    assert cli.json("metrics", "names", "--prefix", "http.") == ["http.server.request.duration"]
    assert cli.json("metrics", "labels") == storage.list_label_keys()
    assert cli.json("metrics", "labels", "cpu.usage") == ["host", "region"]
    assert cli.json("metrics", "values", "host") == ["a", "b"]
    routes = cli.json("metrics", "values", "http.route", "--name", "http.server.request.duration")
    assert routes == storage.list_label_values("http.route", name="http.server.request.duration")
    assert cli.ok("metrics", "names").stdout.split() == storage.list_metric_names()


def test_query(cli: Cli) -> None:
    now = seed(cli.storage)
    since = _iso(now - timedelta(hours=1))
    answer = cli.json(
        "metrics",
        "query",
        "cpu.usage",
        "--agg",
        "p95",
        "--interval",
        "10m",
        "--by",
        "host",
        "--since",
        since,
        "--label",
        "region=eu",
    )
    expected = cli.storage.aggregate_metrics(
        {"type": "percentile", "percentile": 0.95, "interval": "10m", "group_by": ["host"]},
        {"name": "cpu.usage", "start_time": since, "labels": {"region": "eu"}},
    )
    assert answer == _dump(expected) and len(answer) >= 2
    nothing = cli.json("metrics", "query", "cpu.usage", "--label", "region=us")
    assert nothing == []


def test_top_ranks_groups_by_their_value(cli: Cli) -> None:
    now = seed(cli.storage)
    since = _iso(now - timedelta(hours=1))
    answer = cli.json(
        "metrics",
        "top",
        "cpu.usage",
        "--by",
        "host",
        "--agg",
        "max",
        "--limit",
        "1",
        "--since",
        since,
    )
    expected = cli.storage.aggregate_metrics(
        {"type": "max", "group_by": ["host"], "order": "value_desc", "limit": 1},
        {"name": "cpu.usage", "start_time": since},
    )
    assert answer == _dump(expected)
    assert [p["group"] for p in answer] == [{"host": "b"}]
    lowest = cli.json("metrics", "top", "cpu.usage", "--by", "host", "--agg", "max", "--asc")
    assert [p["group"]["host"] for p in lowest] == ["a", "b"]


def test_summary(cli: Cli) -> None:
    now = seed(cli.storage)
    since = _iso(now - timedelta(hours=1))
    answer = cli.json("metrics", "summary", "--since", since, "--compare", "previous_period")
    expected = cli.storage.summarize_metrics({"start_time": since}, compare="previous_period")
    assert answer == _dump(expected)
    assert {s["name"] for s in answer} == set(cli.storage.list_metric_names())


def test_tail_prints_stored_points_then_follows_new_ones(cli: Cli) -> None:
    now = seed(cli.storage)
    since = _iso(now - timedelta(hours=1))
    stored = cli.storage.list_metrics(
        {"name": "cpu.usage", "start_time": since},
        {"limit": 100},
        {"field": "timestamp", "direction": "asc"},
    ).data

    def later() -> None:
        time.sleep(0.5)
        cli.storage.batch_record_metrics(
            [{"id": "late", "name": "cpu.usage", "value": 99.0, "timestamp": now}]
        )

    writer = threading.Thread(target=later)
    writer.start()
    result = cli.ok(
        "metrics",
        "tail",
        "cpu.usage",
        "--since",
        since,
        "--json",
        "--every",
        "0.1",
        "--count",
        str(len(stored) + 1),
    )
    writer.join()
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[:-1] == _dump(stored)
    assert lines[-1]["id"] == "late" and lines[-1]["value"] == 99.0


def test_traces_list_and_show(cli: Cli) -> None:
    seed(cli.storage)
    page = cli.json("traces", "list")
    assert page == _dump(cli.storage.list_traces(pagination={"limit": 20}))
    assert [t["trace_id"] for t in page["data"]] == ["t-bad", "t-ok"]
    failed = cli.json("traces", "list", "--status", "error")
    assert failed == _dump(cli.storage.list_traces({"status": "error"}, {"limit": 20}))
    longest = cli.json("traces", "list", "--order", "duration", "--limit", "1")
    assert [t["trace_id"] for t in longest["data"]] == ["t-bad"]
    assert cli.json("traces", "show", "t-bad") == _dump(cli.storage.get_trace("t-bad"))
    tree = cli.ok("traces", "show", "t-bad").stdout
    assert "card.charge" in tree and "card declined" in tree and "2.00 s" in tree
    missing = cli.run("traces", "show", "nope")
    assert missing.exit_code == 1 and missing.stderr.strip() == "obsstore: no trace 'nope'"


def test_status_is_health(cli: Cli) -> None:
    seed(cli.storage)
    answer = cli.json("status")
    health = _dump(cli.storage.health())
    assert isinstance(health, dict)
    for key in (
        "backend",
        "url",
        "reachable",
        "schema_revision",
        "head_revision",
        "points",
        "spans",
    ):
        assert answer[key] == health[key], key
    assert answer["points"] == cli.storage.count_metrics() and answer["spans"] == 4
    assert "reachable" in cli.ok("status").stdout


def test_human_output_fits_80_columns(cli: Cli) -> None:
    now = seed(cli.storage)
    since = _iso(now - timedelta(hours=1))
    for args in (
        ("metrics", "summary", "--since", since, "--compare", "previous_day"),
        (
            "metrics",
            "query",
            "http.server.request.duration",
            "--by",
            "http.route",
            "--by",
            "http.request.method",
            "--interval",
            "1h",
            "--agg",
            "p99",
        ),
        (
            "metrics",
            "top",
            "http.server.request.duration",
            "--by",
            "http.route",
            "--interval",
            "5m",
        ),
        ("traces", "list"),
        ("traces", "show", "t-ok"),
        ("status",),
    ):
        result = cli.run(*args, env={"COLUMNS": "80"})
        assert result.exit_code == 0, (args, result.stderr)
        widths = [len(line) for line in result.stdout.splitlines()]
        assert widths and max(widths) <= 80, (args, result.stdout)


def test_bad_arguments_are_one_line_and_status_2(cli: Cli) -> None:
    for args in (
        ("metrics", "query", "cpu.usage", "--agg", "median"),
        ("metrics", "query", "cpu.usage", "--since", "yesterday"),
        ("metrics", "query", "cpu.usage", "--interval", "5 minutes"),
        ("traces", "list", "--status", "broken"),
        ("metrics", "summary", "--compare", "last_year"),
    ):
        result = cli.run(*args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
