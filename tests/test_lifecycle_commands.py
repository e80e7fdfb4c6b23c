"""`obsstore rollup` and `obsstore prune` from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from obsstore import create_storage
from obsstore.models._fields import utc_now

BIN = Path(sys.executable).parent


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
