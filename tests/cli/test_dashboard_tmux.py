"""The live dashboard in a real terminal: tmux runs ``obsstore dashboard``, the test reads the
pane after a refresh, then quits with q and with Ctrl-C and checks the exit status."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from obsstore import create_storage
from tests.cli.data import seed
from tests.conftest import IN_CI, url_for


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[list[str]]:
    """``tmux`` on a server of this test's own (its own socket), killed afterwards."""
    if shutil.which("tmux") is None:
        message = "tmux is missing: scripts/ensure-tools.sh installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    command = ["tmux", "-S", str(tmp_path / "tmux.sock")]
    try:
        yield command
    finally:
        subprocess.run([*command, "kill-server"], capture_output=True)


def _terminal_environment() -> dict[str, str]:
    """This process's environment for the tmux server, less LINES and COLUMNS: an xdist worker
    sets them (24 x 80), and the dashboard would draw that size instead of the pane's."""
    environment = {k: v for k, v in os.environ.items() if k not in ("LINES", "COLUMNS")}
    return {**environment, "TERM": "xterm-256color"}


def _pane(tmux: list[str]) -> str:
    return subprocess.run(
        [*tmux, "capture-pane", "-p", "-t", "dash"], capture_output=True, text=True, check=True
    ).stdout


def _wait(condition: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("quit_key", ["q", "C-c"])
def test_live_dashboard_in_tmux(
    backend: str, quit_key: str, tmux: list[str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = url_for(backend, tmp_path, request)
    with create_storage(url) as storage:
        storage.init()
        storage.dangerously_clear_all()
        seed(storage)
    status_file = tmp_path / "status"
    command = shlex.join(
        [sys.executable, "-m", "obsstore.cli", "dashboard", "--refresh", "1", "--url", url]
    )
    # The shell outlives a Ctrl-C (a trap with a command; the dashboard still gets SIGINT)
    # to write the dashboard's exit status.
    shell = f"trap : INT; {command}; echo $? > {shlex.quote(str(status_file))}; sleep 60"
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "dash", "-x", "100", "-y", "48", shell],
        check=True,
        env=_terminal_environment(),
    )
    _wait(lambda: "Summary" in _pane(tmux), "the first frame")
    first = _pane(tmux).splitlines()[0]
    _wait(lambda: _pane(tmux).splitlines()[0] != first, "a refresh (the header's time)")
    pane = _pane(tmux)
    for panel in (
        "obsstore dashboard",
        "Summary",
        "Alerts (2 firing)",
        "Top 5 routes by requests",
        "Slowest 5 routes (p95)",
        "Failed traces",
    ):
        assert panel in pane, (panel, pane)
    assert "ALERT success_rate<0.9" in pane and "75.0%" in pane, pane
    assert not status_file.exists()  # still running after the refresh
    subprocess.run([*tmux, "send-keys", "-t", "dash", quit_key], check=True)
    _wait(status_file.exists, f"the dashboard to quit on {quit_key}")
    assert status_file.read_text().strip() == "0"
