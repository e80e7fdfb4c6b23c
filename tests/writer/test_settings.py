"""Writer settings: environment variables, constructor overrides, and errors that name them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from obsstore import ConfigurationError, MetricsStorage, MetricsWriter, create_storage

VARIABLES = ("BATCH_SIZE", "BATCH_INTERVAL", "MAX_PENDING", "SPOOL_DIR")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(f"OBSERVABILITY_METRICS_{variable}", raising=False)


@pytest.fixture
def memory() -> Iterator[MetricsStorage]:
    with create_storage("memory") as storage:
        yield storage


def settings_of(storage: MetricsStorage, **options: Any) -> Any:
    writer = MetricsWriter(storage, **options)
    try:
        return writer.settings
    finally:
        writer.close()


def test_defaults(memory: MetricsStorage) -> None:
    settings = settings_of(memory)
    assert (settings.batch_size, settings.flush_interval, settings.max_pending) == (
        100,
        5000,
        100_000,
    )
    assert settings.spool_dir is None


def test_environment_variables(
    memory: MetricsStorage, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OBSERVABILITY_METRICS_BATCH_SIZE", "7")
    monkeypatch.setenv("OBSERVABILITY_METRICS_BATCH_INTERVAL", "250")
    monkeypatch.setenv("OBSERVABILITY_METRICS_MAX_PENDING", "1234")
    monkeypatch.setenv("OBSERVABILITY_METRICS_SPOOL_DIR", str(tmp_path / "new" / "spool"))
    settings = settings_of(memory)
    assert (settings.batch_size, settings.flush_interval, settings.max_pending) == (7, 250, 1234)
    assert settings.spool_dir == tmp_path / "new" / "spool"
    assert settings.spool_dir.is_dir()  # created on demand


def test_constructor_arguments_override_the_environment(
    memory: MetricsStorage, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in VARIABLES[:3]:
        monkeypatch.setenv(f"OBSERVABILITY_METRICS_{variable}", "9")
    monkeypatch.setenv("OBSERVABILITY_METRICS_SPOOL_DIR", str(tmp_path / "from-env"))
    settings = settings_of(
        memory, batch_size=3, flush_interval=40, max_pending=50, spool_dir=tmp_path / "arg"
    )
    assert (settings.batch_size, settings.flush_interval, settings.max_pending) == (3, 40, 50)
    assert settings.spool_dir == tmp_path / "arg"


def test_an_empty_spool_variable_means_no_spool(
    memory: MetricsStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OBSERVABILITY_METRICS_SPOOL_DIR", "")
    assert settings_of(memory).spool_dir is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BATCH_SIZE", "0"),
        ("BATCH_SIZE", "many"),
        ("BATCH_INTERVAL", "0"),
        ("BATCH_INTERVAL", "5s"),
        ("MAX_PENDING", "-1"),
        ("MAX_PENDING", "1e3"),
    ],
)
def test_invalid_variables_name_themselves(
    memory: MetricsStorage, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(f"OBSERVABILITY_METRICS_{variable}", value)
    with pytest.raises(ConfigurationError, match=f"OBSERVABILITY_METRICS_{variable}"):
        MetricsWriter(memory)


@pytest.mark.parametrize(
    ("argument", "value", "variable"),
    [
        ("batch_size", 0, "BATCH_SIZE"),
        ("batch_size", True, "BATCH_SIZE"),
        ("batch_size", "10", "BATCH_SIZE"),
        ("batch_size", 2.5, "BATCH_SIZE"),
        ("batch_size", 1_000_001, "BATCH_SIZE"),
        ("flush_interval", 0, "BATCH_INTERVAL"),
        ("flush_interval", 0.5, "BATCH_INTERVAL"),
        ("max_pending", -5, "MAX_PENDING"),
    ],
)
def test_invalid_arguments_name_the_argument_and_variable(
    memory: MetricsStorage, argument: str, value: Any, variable: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        MetricsWriter(memory, **{argument: value})
    assert f"{argument}=" in str(info.value)
    assert f"OBSERVABILITY_METRICS_{variable}" in str(info.value)


def test_a_spool_dir_that_is_a_file(
    memory: MetricsStorage, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("x")
    with pytest.raises(ConfigurationError, match=r"spool_dir"):
        MetricsWriter(memory, spool_dir=a_file)
    with pytest.raises(ConfigurationError, match=r"spool_dir"):
        MetricsWriter(memory, spool_dir=123)  # type: ignore[arg-type]
    monkeypatch.setenv("OBSERVABILITY_METRICS_SPOOL_DIR", str(a_file / "below"))
    with pytest.raises(ConfigurationError, match="OBSERVABILITY_METRICS_SPOOL_DIR"):
        MetricsWriter(memory)
