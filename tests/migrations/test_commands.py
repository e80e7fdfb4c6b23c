"""The deployment path: `alembic upgrade head` / `downgrade base` from the repository root and
`obsstore migrate` from an installed wheel, driven by the same environment as the library."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import sqlalchemy as sa

from obsstore import migrate
from obsstore.schema import VERSION_TABLE
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
    with migrate.migration_connection(sql_url) as connection:
        assert schema_differences(connection) == []
    current = _run([str(BIN / "alembic"), "current"], env)
    assert migrate.head_revision() in current.stdout
    downgraded = _run([str(BIN / "alembic"), "-x", f"url={sql_url}", "downgrade", "base"], {})
    assert downgraded.returncode == 0, downgraded.stderr
    with migrate.migration_connection(sql_url) as connection:
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
    installed = _run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], {}, cwd=tmp_path)
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
