"""`obsstore rollup` and `obsstore prune` from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from datetime import timedelta
from pathlib import Path

import pytest

from obsstore import create_storage
from obsstore.models._fields import utc_now

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "obsstore"), *args], env={**os.environ, **env}, capture_output=True, text=True
    )


def test_rollup_and_prune_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    old = utc_now() - timedelta(days=200)
    with create_storage(url) as storage:
        storage.init()
        storage.batch_record_metrics(
            [
                {"id": f"p{i}", "timestamp": old + timedelta(minutes=i), "name": "m", "value": 1.0}
                for i in range(100)
            ]
            + [{"id": "new", "name": "m", "value": 1.0}]
        )
    rollup = _run(["rollup", "--url", url])
    assert rollup.returncode == 0, rollup.stderr
    assert "rollup rows written: " in rollup.stdout
    dry = _run(["prune", "--dry-run", "--url", url])
    assert dry.returncode == 0, dry.stderr
    assert "would delete: 100 raw points" in dry.stdout
    real = _run(["prune", "--reclaim", "--url", url])
    assert real.returncode == 0, real.stderr
    assert "deleted: 100 raw points" in real.stdout
    with create_storage(url) as storage:
        assert storage.count_metrics() == 1
        counts = storage.aggregate_metrics({"type": "count", "interval": "1d"})
        assert sum(p.count for p in counts) == 101


def test_bad_setting_names_its_variable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = _run(["prune", "--url", url], OBSERVABILITY_METRICS_RETENTION_DAYS="ninety")
    assert result.returncode == 2
    assert "OBSERVABILITY_METRICS_RETENTION_DAYS" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_installed_wheel_rolls_up_and_prunes(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("obsstore-*.whl")
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[cli]"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    database = tmp_path / "wheel.db"
    old = utc_now() - timedelta(days=200)
    with create_storage(f"sqlite:///{database}") as storage:
        storage.init()
        storage.batch_record_metrics(
            [{"id": f"p{i}", "timestamp": old, "name": "m", "value": 1.0} for i in range(10)]
        )
    env = {
        **os.environ,
        "OBSERVABILITY_METRICS_STORAGE": "sqlite",
        "OBSERVABILITY_METRICS_DATABASE_URL": f"sqlite:///{database}",
        "PYTHONPATH": "",
    }
    obsstore = str(environment / "bin" / "obsstore")
    for args, expected in (
        (["rollup"], "rollup rows written: 2"),
        (["prune", "--dry-run"], "would delete: 10 raw points"),
        (["prune"], "deleted: 10 raw points"),
    ):
        result = subprocess.run(
            [obsstore, *args], env=env, capture_output=True, text=True, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout
