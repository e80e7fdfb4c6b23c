"""``obsstore routes``, ``operations`` and ``dashboard --once`` on every backend."""

from __future__ import annotations

import json
from datetime import timedelta

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
