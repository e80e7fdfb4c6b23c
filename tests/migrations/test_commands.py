"""The deployment path: `alembic upgrade head` / `downgrade base` from the repository root and
`obsstore migrate` from an installed wheel, driven by the same environment as the library."""

from __future__ import annotations

import importlib.metadata
import os
import socket
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

import obsstore
from obsstore import migrate
from obsstore.schema import VERSION_TABLE
from obsstore.storage.migration import migration_connection
from tests.migrations.catalog import schema_differences, table_names

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(
    args: list[str], env: dict[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True)


def test_alembic_command_line(sql_backend: str, sql_url: str) -> None:
    env = {
        "OBSERVABILITY_METRICS_STORAGE": sql_backend,
        "OBSERVABILITY_METRICS_DATABASE_URL": sql_url,
    }
    upgraded = _run([str(BIN / "alembic"), "upgrade", "head"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    with migration_connection(sql_url) as connection:
        assert schema_differences(connection) == []
    current = _run([str(BIN / "alembic"), "current"], env)
    assert migrate.head_revision() in current.stdout
    downgraded = _run([str(BIN / "alembic"), "-x", f"url={sql_url}", "downgrade", "base"], {})
    assert downgraded.returncode == 0, downgraded.stderr
    with migration_connection(sql_url) as connection:
        assert table_names(connection) - {VERSION_TABLE} == set()


def test_alembic_refuses_the_memory_backend_clearly() -> None:
    result = _run(
        [str(BIN / "alembic"), "upgrade", "head"], {"OBSERVABILITY_METRICS_STORAGE": "memory"}
    )
    assert result.returncode != 0
    assert "memory backend has no schema" in result.stderr
    assert "Traceback" not in result.stderr


def test_alembic_names_a_bad_setting() -> None:
    result = _run(
        [str(BIN / "alembic"), "upgrade", "head"], {"OBSERVABILITY_METRICS_STORAGE": "oracle"}
    )
    assert result.returncode != 0
    assert "OBSERVABILITY_METRICS_STORAGE" in result.stderr and "Traceback" not in result.stderr


def test_obsstore_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    check = _run([str(BIN / "obsstore"), "check", "--url", url], {})
    assert check.returncode == 1 and "(none)" in check.stdout
    assert _run([str(BIN / "obsstore"), "migrate", "--url", url], {}).returncode == 0
    check = _run([str(BIN / "obsstore"), "check", "--url", url], {})
    assert check.returncode == 0 and migrate.head_revision() in check.stdout


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _obsstore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return _run([str(BIN / "obsstore"), *args], env or {})


def test_an_unreachable_database_is_exit_status_3_in_one_line() -> None:
    url = f"postgresql://obsstore@127.0.0.1:{_closed_port()}/nothing"
    for command in ("check", "current", "migrate"):
        result = _obsstore(command, "--url", url)
        assert result.returncode == 3, (command, result.stderr)
        line = _one_line(result.stderr)
        assert line.startswith("obsstore: ") and "unavailable" in line
        assert "127.0.0.1" in line


def test_alembic_against_an_unreachable_database_is_one_line() -> None:
    env = {
        "OBSERVABILITY_METRICS_STORAGE": "postgresql",
        "OBSERVABILITY_METRICS_DATABASE_URL": f"postgresql://u@127.0.0.1:{_closed_port()}/db",
    }
    result = _run([str(BIN / "alembic"), "upgrade", "head"], env)
    assert result.returncode != 0
    assert "unavailable" in _one_line(result.stderr)


def test_check_tells_behind_from_head(sql_url: str) -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    first = next(r.revision for r in scripts.walk_revisions() if not r.down_revision)
    assert _obsstore("migrate", first, "--url", sql_url).returncode == 0
    behind = _obsstore("check", "--url", sql_url)
    assert behind.returncode == 1, behind.stderr
    assert f"database revision: {first};" in behind.stdout
    assert _obsstore("migrate", "--url", sql_url).returncode == 0
    at_head = _obsstore("check", "--url", sql_url)
    assert at_head.returncode == 0, at_head.stderr
    assert f"database revision: {migrate.head_revision()};" in at_head.stdout


@pytest.mark.parametrize(
    "env",
    [
        {"OBSERVABILITY_METRICS_STORAGE": "oracle"},
        {"OBSERVABILITY_METRICS_STORAGE": "memory"},
        {"OBSERVABILITY_METRICS_STORAGE": "postgresql"},  # without a URL
        {"OBSERVABILITY_METRICS_STORAGE": "database", "OBSERVABILITY_METRICS_DATABASE_URL": "x"},
        {"OBSERVABILITY_METRICS_AUTO_MIGRATE": "perhaps"},
    ],
)
def test_a_bad_setting_is_exit_status_2_in_one_line(env: dict[str, str]) -> None:
    clean = {"OBSERVABILITY_METRICS_DATABASE_URL": "", **env}
    for command in ("check", "migrate"):
        result = _obsstore(command, env=clean)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert _one_line(result.stderr).startswith("obsstore: ")


def test_a_revision_from_a_newer_release_is_exit_status_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    assert _obsstore("migrate", "--url", url).returncode == 0
    with migration_connection(url) as connection:
        versions = sa.table(VERSION_TABLE, sa.column("version_num"))
        connection.execute(sa.update(versions).values(version_num="9999_from_the_future"))
    result = _obsstore("check", "--url", url)
    assert result.returncode == 2
    assert "newer release" in _one_line(result.stderr)


@pytest.mark.parametrize("scheme", ["sqlite", "duckdb"])
def test_check_and_current_do_not_create_a_missing_file(tmp_path: Path, scheme: str) -> None:
    database = tmp_path / "absent" / "never.db"
    database.parent.mkdir()
    url = f"{scheme}:///{database}"
    check = _obsstore("check", "--url", url)
    assert check.returncode == 1, check.stderr
    assert f"no database at {database}" in check.stdout
    current = _obsstore("current", "--url", url)
    assert current.returncode == 0 and f"no database at {database}" in current.stdout
    downgrade = _obsstore("downgrade", "base", "--url", url)
    assert downgrade.returncode == 2 and "no database at" in _one_line(downgrade.stderr)
    assert list(database.parent.iterdir()) == []
    assert _obsstore("migrate", "--url", url).returncode == 0  # migrate creates it
    assert database.exists()
    assert _obsstore("check", "--url", url).returncode == 0


def test_version() -> None:
    result = _obsstore("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"obsstore {obsstore.__version__}"
    assert obsstore.__version__ == importlib.metadata.version("obsstore")


@pytest.mark.slow
def test_the_wheel_ships_type_information_and_the_license(tmp_path: Path) -> None:
    built = _run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(ROOT)], {}
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("obsstore-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert "obsstore/py.typed" in names  # PEP 561: users' type checkers read our annotations
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert b"Classifier: Typing :: Typed" in metadata
    # The command line's typer and rich come with the cli extra (in all), not the library.
    assert b"Provides-Extra: cli\n" in metadata  # cli itself, not clickhouse
    assert b"Requires-Dist: typer" in metadata and b"extra == 'cli'" in metadata


@pytest.mark.slow
def test_installed_wheel_migrates_without_the_repository(tmp_path: Path) -> None:
    built = _run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        {},
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("obsstore-*.whl")
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    installed = _run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[cli]"], {}, cwd=tmp_path
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    database = tmp_path / "new.db"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _run(
        [str(environment / "bin" / "obsstore"), "migrate"],
        {
            "OBSERVABILITY_METRICS_STORAGE": "sqlite",
            "OBSERVABILITY_METRICS_DATABASE_URL": f"sqlite:///{database}",
            "PYTHONPATH": "",
        },
        cwd=elsewhere,
    )
    assert result.returncode == 0, result.stderr
    assert migrate.head_revision() in result.stdout
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        assert "obsstore_metrics" in sa.inspect(connection).get_table_names()
    engine.dispose()
