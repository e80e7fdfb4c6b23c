"""RetentionPolicy arguments and the environment settings, with their errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from obsstore import ConfigurationError, RetentionJob, RetentionPolicy, RollupLevel, ValidationError
from obsstore.errors import InvalidArgumentError
from obsstore.lifecycle import policy_from_environment


def test_defaults_from_an_empty_environment() -> None:
    policy = policy_from_environment({})
    assert policy.raw == timedelta(days=90)
    assert policy.traces == timedelta(days=30)
    assert [(lv.interval, lv.keep) for lv in policy.rollups] == [
        (timedelta(hours=1), timedelta(days=400)),
        (timedelta(days=1), timedelta(days=1825)),
    ]


def test_environment_values() -> None:
    policy = policy_from_environment(
        {
            "OBSERVABILITY_METRICS_RETENTION_DAYS": "7",
            "OBSERVABILITY_METRICS_ROLLUPS": " 5m:30d, 1h ,1d:400d",
            "OBSERVABILITY_TRACES_RETENTION_DAYS": "0",
        }
    )
    assert policy.raw == timedelta(days=7) and policy.traces is None
    assert [(lv.interval, lv.keep) for lv in policy.rollups] == [
        (timedelta(minutes=5), timedelta(days=30)),
        (timedelta(hours=1), None),
        (timedelta(days=1), timedelta(days=400)),
    ]


@pytest.mark.parametrize("value", ["0", "", "  "])
def test_zero_or_empty_keeps_forever(value: str) -> None:
    env = {"OBSERVABILITY_METRICS_RETENTION_DAYS": value, "OBSERVABILITY_METRICS_ROLLUPS": ""}
    policy = policy_from_environment(env)
    assert policy.raw is None and policy.rollups == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OBSERVABILITY_METRICS_RETENTION_DAYS", "-1"),
        ("OBSERVABILITY_METRICS_RETENTION_DAYS", "7d"),
        ("OBSERVABILITY_METRICS_RETENTION_DAYS", "99999"),
        ("OBSERVABILITY_TRACES_RETENTION_DAYS", "x"),
        ("OBSERVABILITY_METRICS_ROLLUPS", "1h:forever"),
        ("OBSERVABILITY_METRICS_ROLLUPS", "hourly"),
        ("OBSERVABILITY_METRICS_ROLLUPS", "7m,1h"),  # 7 minutes does not divide an hour
        ("OBSERVABILITY_METRICS_ROLLUPS", "1h:1d"),  # keeps less than the raw 90 days
    ],
)
def test_bad_values_name_their_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        policy_from_environment({variable: value})


def test_policy_arguments_are_validated() -> None:
    assert RetentionPolicy(raw=timedelta(days=2)).raw == timedelta(days=2)
    with pytest.raises(ValidationError):
        RetentionPolicy(raw="7 days")
    with pytest.raises(ValidationError, match="does not divide"):
        RetentionPolicy(rollups=[RollupLevel(interval="1h"), RollupLevel(interval="90m")])
    with pytest.raises(ValidationError, match="less than the raw"):
        RetentionPolicy(raw="7d", rollups=[RollupLevel(interval="1h", keep="1d")])
    with pytest.raises(ValidationError, match="two rollup levels"):
        RetentionPolicy(rollups=[RollupLevel(interval="1h"), RollupLevel(interval="60m")])
    levels = RetentionPolicy(rollups=[RollupLevel(interval="1d"), RollupLevel(interval="1h")])
    assert [lv.interval for lv in levels.rollups] == [timedelta(hours=1), timedelta(days=1)]


def test_policy_none_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from obsstore import create_storage

    monkeypatch.setenv("OBSERVABILITY_METRICS_ROLLUPS", "bad")
    with create_storage("memory") as storage:
        with pytest.raises(ConfigurationError, match="OBSERVABILITY_METRICS_ROLLUPS"):
            storage.prune()
        with pytest.raises(ConfigurationError, match="OBSERVABILITY_METRICS_ROLLUPS"):
            RetentionJob(storage)
        with pytest.raises(InvalidArgumentError, match="every"):
            RetentionJob(storage, RetentionPolicy(), every="soon")
