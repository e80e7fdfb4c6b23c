"""Choosing a backend from OBSERVABILITY_METRICS_* or create_storage's argument."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from obsstore import ConfigurationError, MetricsWriter, create_storage
from obsstore.config import load_settings, resolve_target
from obsstore.storage import backend_class_for


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in (
        "STORAGE",
        "DATABASE_URL",
        "AUTO_MIGRATE",
        "BATCH_SIZE",
        "BATCH_INTERVAL",
        "MAX_PENDING",
        "SPOOL_DIR",
    ):
        monkeypatch.delenv(f"OBSERVABILITY_METRICS_{variable}", raising=False)
    monkeypatch.chdir(tmp_path)  # default file URLs are relative


def test_memory_is_the_default() -> None:
    with create_storage() as storage:
        assert storage.kind == "memory"


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("sqlite", "sqlite:///obsstore.db"),
        ("duckdb", "duckdb:///obsstore.duckdb"),
        ("SQLite", "sqlite:///obsstore.db"),
        ("clickhouse", "chdb:///obsstore-chdb"),
    ],
)
def test_embedded_kinds_have_default_urls(kind: str, url: str) -> None:
    target = resolve_target(kind)
    assert target.url is not None
    assert target.kind == kind.lower() and target.url.render_as_string() == url


@pytest.mark.parametrize("kind", ["postgresql", "postgres", "database"])
def test_server_kinds_need_a_url(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setenv("OBSERVABILITY_METRICS_STORAGE", kind)
    with pytest.raises(ConfigurationError, match="OBSERVABILITY_METRICS_DATABASE_URL"):
        create_storage()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
    ],
)
def test_plain_postgresql_urls_use_psycopg_3(
    monkeypatch: pytest.MonkeyPatch, url: str, driver: str
) -> None:
    monkeypatch.setenv("OBSERVABILITY_METRICS_STORAGE", "postgres")
    monkeypatch.setenv("OBSERVABILITY_METRICS_DATABASE_URL", url)
    target = resolve_target()
    assert target.kind == "postgresql" and target.url is not None
    assert target.url.drivername == driver


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        # A server through clickhouse-connect's dialect, or the embedded engine (kept as is).
        ("clickhouse://u@h:8123/db", "clickhousedb"),
        ("clickhousedb://u@h:8123/db", "clickhousedb"),
        ("chdb:///var/lib/obsstore?database=telemetry", "chdb"),
    ],
)
def test_clickhouse_urls(monkeypatch: pytest.MonkeyPatch, url: str, driver: str) -> None:
    monkeypatch.setenv("OBSERVABILITY_METRICS_STORAGE", "clickhouse")
    monkeypatch.setenv("OBSERVABILITY_METRICS_DATABASE_URL", url)
    target = resolve_target()
    assert target.kind == "clickhouse" and target.url is not None
    assert target.url.drivername == driver


def test_database_kind_follows_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVABILITY_METRICS_STORAGE", "database")
    monkeypatch.setenv("OBSERVABILITY_METRICS_DATABASE_URL", "duckdb:///x.duckdb")
    assert resolve_target().kind == "duckdb"


def test_kind_contradicting_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVABILITY_METRICS_STORAGE", "sqlite")
    monkeypatch.setenv("OBSERVABILITY_METRICS_DATABASE_URL", "postgresql://u@h/db")
    with pytest.raises(ConfigurationError) as info:
        create_storage()
    assert "OBSERVABILITY_METRICS_STORAGE" in str(info.value)
    assert "OBSERVABILITY_METRICS_DATABASE_URL" in str(info.value)


def test_unknown_kind_lists_the_valid_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVABILITY_METRICS_STORAGE", "mongodb")
    with pytest.raises(ConfigurationError) as info:
        create_storage()
    message = str(info.value)
    assert "OBSERVABILITY_METRICS_STORAGE" in message
    assert all(kind in message for kind in ("memory", "sqlite", "duckdb", "postgresql"))


@pytest.mark.parametrize(
    "url", ["mysql://root@localhost/db", "postgresql+psycopg2://u@h/db", "not a url"]
)
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        create_storage(url)


def test_invalid_settings_name_their_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVABILITY_METRICS_AUTO_MIGRATE", "perhaps")
    with pytest.raises(ConfigurationError, match="OBSERVABILITY_METRICS_AUTO_MIGRATE"):
        load_settings()
    with pytest.raises(ConfigurationError, match="OBSERVABILITY_METRICS_AUTO_MIGRATE"):
        create_storage()


@pytest.mark.parametrize("variable", ["BATCH_SIZE", "BATCH_INTERVAL", "MAX_PENDING"])
def test_a_bad_writer_variable_does_not_stop_create_storage(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(f"OBSERVABILITY_METRICS_{variable}", "abc")
    with create_storage() as storage:  # no writer: the writer's variables are not read
        assert storage.count_metrics() == 0
        with pytest.raises(ConfigurationError, match=f"OBSERVABILITY_METRICS_{variable}"):
            MetricsWriter(storage)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql://@@@:x/", "not a valid SQLAlchemy URL"),
        ("postgresql://u@h:99999999999999999999x/db", "not a valid SQLAlchemy URL"),
        ("sqlite:///x.db?timeout=abc", "timeout"),
        ("sqlite:///x.db?timeout=-1", "timeout"),
    ],
)
def test_malformed_urls_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match="create_storage") as info:
        create_storage(url)
    assert problem in str(info.value)
    monkeypatch.setenv("OBSERVABILITY_METRICS_STORAGE", "database")
    monkeypatch.setenv("OBSERVABILITY_METRICS_DATABASE_URL", url)
    with pytest.raises(ConfigurationError, match="OBSERVABILITY_METRICS_DATABASE_URL") as info:
        create_storage()
    assert problem in str(info.value)


def test_a_numeric_sqlite_timeout_is_accepted(tmp_path: Path) -> None:
    with create_storage(f"sqlite:///{tmp_path / 't.db'}?timeout=0.5") as storage:
        storage.init()
        assert storage.count_metrics() == 0


def test_create_storage_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OBSERVABILITY_METRICS_STORAGE", "sqlite")
    monkeypatch.setenv("OBSERVABILITY_METRICS_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    with create_storage() as storage:
        storage.init()
        assert storage.kind == "sqlite"
    assert (tmp_path / "env.db").exists()


def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "obsstore.storage.duckdb", raising=False)
    monkeypatch.setitem(sys.modules, "duckdb", None)  # makes `import duckdb` fail
    with pytest.raises(ConfigurationError, match=r"pip install 'obsstore\[duckdb\]'"):
        backend_class_for("duckdb")
    monkeypatch.delitem(sys.modules, "obsstore.storage.postgresql", raising=False)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'obsstore\[postgres\]'"):
        create_storage("postgresql://u@localhost/db")
