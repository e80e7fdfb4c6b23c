"""How the tests choose their PostgreSQL server (devtools/postgres.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.postgres import PostgresUnavailable, compose_url, find_server, uses_postgresql


def test_an_unknown_source_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSSTORE_TEST_POSTGRES", "docker")
    with pytest.raises(PostgresUnavailable, match="OBSSTORE_TEST_POSTGRES='docker' is not one of"):
        find_server()


def test_the_url_source_needs_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSSTORE_TEST_POSTGRES", "url")
    monkeypatch.delenv("OBSSTORE_TEST_POSTGRES_URL", raising=False)
    with pytest.raises(PostgresUnavailable, match="OBSSTORE_TEST_POSTGRES_URL is not set"):
        find_server()


def test_the_url_source_uses_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSSTORE_TEST_POSTGRES", "url")
    monkeypatch.setenv("OBSSTORE_TEST_POSTGRES_URL", "postgresql://u:p@db.example:6543/x")
    server = find_server()
    assert server is not None and server.url == "postgresql://u:p@db.example:6543/x"


def test_the_container_source_fails_without_docker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OBSSTORE_TEST_POSTGRES", "container")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-daemon.sock'}")
    with pytest.raises(PostgresUnavailable, match="no Docker daemon answers"):
        find_server()


def test_the_compose_url_comes_from_the_compose_file(tmp_path: Path) -> None:
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        "services:\n  postgres:\n    environment:\n      POSTGRES_USER: alice\n"
        "      POSTGRES_PASSWORD: s3cret\n      POSTGRES_DB: metrics\n"
        '    ports:\n      - "127.0.0.1:61234:5432"\n'
    )
    assert compose_url(compose) == "postgresql://alice:s3cret@127.0.0.1:61234/metrics"
    assert compose_url(tmp_path / "missing.yml") is None


def test_the_repository_compose_file_is_understood() -> None:
    url = compose_url()
    assert url is not None and url.startswith("postgresql://obsstore:")


def test_postgresql_tests_are_recognised() -> None:
    assert uses_postgresql(["tmp_path", "fresh_postgres_url"], {})
    assert uses_postgresql(["storage", "backend"], {"backend": "postgresql"})
    assert not uses_postgresql(["storage", "backend"], {"backend": "duckdb"})
