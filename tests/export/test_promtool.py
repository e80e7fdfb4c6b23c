"""The OpenMetrics export backfills into Prometheus: ``promtool tsdb create-blocks-from
openmetrics`` (Debian's prometheus package) accepts it and reads every sample. Skipped with
a reason only where promtool is missing outside CI; under CI=true it must run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from obsstore import ObservabilityStorage
from obsstore.export import export_metrics
from tests.conftest import IN_CI
from tests.export.data import sample_points


def promtool_path() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool is not installed (scripts/ensure-tools.sh installs Debian's prometheus)"
        if IN_CI:
            pytest.fail(f"CI=true requires promtool: {message}")
        pytest.skip(message)
    return path


def test_promtool_backfills_the_openmetrics_export(
    storage: ObservabilityStorage, tmp_path: Path
) -> None:
    promtool = promtool_path()
    points = sample_points(90)
    storage.batch_record_metrics(points)
    path = tmp_path / "metrics.om"
    export_metrics(storage, path, format="openmetrics")
    samples = sum(1 for line in path.read_text().splitlines() if line and not line.startswith("#"))
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(path), str(tmp_path / "tsdb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # The block summary: ULID, MIN TIME, MAX TIME, DURATION, NUM SAMPLES, NUM CHUNKS, NUM SERIES.
    row = [line for line in result.stdout.splitlines() if line.strip()][-1].split()
    series = {
        line.rsplit(" ", 2)[0] for line in path.read_text().splitlines() if not line.startswith("#")
    }
    assert (int(row[4]), int(row[6])) == (samples, len(series))
