"""``obsstore routes``, ``operations`` and ``dashboard --once`` on every backend."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from obsstore.cli.common import jsonable
from obsstore.routes import operation_metrics, route_metrics
from tests.cli.conftest import Cli
from tests.cli.data import seed


def _dump(value: object) -> object:
    return json.loads(json.dumps(jsonable(value)))


def test_routes_and_operations_are_the_library_answer(cli: Cli) -> None:
    now = seed(cli.storage)
    since = (now - timedelta(hours=2)).isoformat()
    answer = cli.json("routes", "--since", since, "--period", "1h")
    expected = route_metrics(cli.storage, start_time=now - timedelta(hours=2), period="1h")
    assert answer == _dump(expected)
    assert sum(row["total_requests"] for row in answer) == 8
    assert sum(row["failed"] for row in answer) == 2
    one = cli.json("routes", "--route", "/orders", "--method", "POST", "--since", since)
    assert {(r["route"], r["method"]) for r in one} == {("/orders", "POST")}
    operations = cli.json("operations", "--since", since, "--period", "1d")
    assert operations == _dump(
        operation_metrics(cli.storage, start_time=now - timedelta(hours=2), period="1d")
    )
    assert sum(row["failed"] for row in operations) == 1
    table = cli.ok("routes", "--since", since).stdout
    assert "/orders" in table and max(len(line) for line in table.splitlines()) <= 80


def test_dashboard_once_shows_every_panel_and_the_alerts_that_fire(cli: Cli) -> None:
    seed(cli.storage)
    result = cli.run("dashboard", "--once", "--since", "1h", env={"COLUMNS": "80"})
    assert result.exit_code == 0, (result.stderr, result.exception)
    out = result.stdout
    for panel in (
        "Summary",
        "Alerts (2 firing)",
        "Top 5 routes by requests",
        "Slowest 5 routes (p95)",
        "Operations",
        "Failed traces",
    ):
        assert panel in out, panel
    assert "ALERT success_rate<0.9" in out and "ALERT p99>5s" in out
    assert "75.0%" in out  # 6 of 8 requests succeeded
    assert "POST /orders" in out and "GET /items" in out
    assert "pay" in out  # the failed trace
    assert max(len(line) for line in out.splitlines()) <= 80
    quiet = cli.run("dashboard", "--once", "--alert", "requests<1", "--alert", "p95>1m")
    assert quiet.exit_code == 0 and "Alerts (0 firing)" in quiet.stdout
    assert "ok    p95>1m" in quiet.stdout


def test_dashboard_on_an_empty_store(cli: Cli) -> None:
    result = cli.run("dashboard", "--once")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "no requests in this window" in result.stdout


def test_a_bad_alert_is_one_line_and_status_2(cli: Cli) -> None:
    result = cli.run("dashboard", "--once", "--alert", "latency>>5")
    assert result.exit_code == 2
    assert result.stderr.startswith("obsstore: --alert") and len(result.stderr.splitlines()) == 1


def test_a_refresh_reads_aggregates_only(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The snapshot adds up route_metrics rows and never reads raw points."""
    from obsstore.cli.dashboard.snapshot import take_snapshot

    now = seed(cli.storage)

    def no_raw_points(*args: object, **kwargs: object) -> None:
        raise AssertionError("the dashboard read raw points")

    for method in ("list_metrics", "iter_metrics"):
        monkeypatch.setattr(cli.storage, method, no_raw_points)
    snap = take_snapshot(cli.storage, timedelta(hours=1), timedelta(minutes=5))
    rows = route_metrics(cli.storage, start_time=snap.start, end_time=snap.taken_at, period="5m")
    assert snap.requests == sum(r.total_requests for r in rows) == 8
    assert snap.failed == sum(r.failed for r in rows) == 2
    assert sum(v or 0 for v in snap.requests_trend) == 8
    assert [line.key for line in snap.busiest][:2] == ["GET /items", "POST /orders"]
    assert snap.slowest[0].key == "POST /orders"  # 7.2 s, the slowest request
    assert snap.statistic("p99") is not None and snap.statistic("p99") > 5000  # type: ignore[operator]
    assert [t.trace_id for t in snap.failed_traces] == ["t-bad"]
    assert now >= snap.start
