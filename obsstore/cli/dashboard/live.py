"""The live loop: rich ``Live`` on the alternate screen, one snapshot per refresh, ``q``
(read from the terminal without waiting for Enter) or Ctrl-C quits with status 0."""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rich.live import Live

from obsstore.cli.common import console
from obsstore.cli.dashboard.alerts import Alert
from obsstore.cli.dashboard.snapshot import Snapshot
from obsstore.cli.dashboard.view import screen

QUIT_KEYS = (b"q", b"Q")


def run_live(
    snap: Callable[[], Snapshot],
    alerts: Sequence[Alert],
    window: str,
    backend: str,
    refresh: float,
) -> None:
    out = console()
    try:
        with (
            _keys() as pressed,
            Live(
                screen(snap(), alerts, window, backend),
                console=out,
                screen=True,
                auto_refresh=False,
                redirect_stderr=False,
            ) as live,
        ):
            while True:
                if _wait_for_quit(pressed, refresh):
                    return
                live.update(screen(snap(), alerts, window, backend), refresh=True)
    except KeyboardInterrupt:
        return


def _wait_for_quit(pressed: Callable[[float], bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if pressed(left) in QUIT_KEYS:
            return True
    return False


@contextmanager
def _keys() -> Iterator[Callable[[float], bytes]]:
    """A function waiting up to N seconds for one key press (b"" when none). On a terminal,
    keys arrive unbuffered (cbreak mode; Ctrl-C still interrupts); elsewhere it only waits."""
    if not sys.stdin.isatty():
        yield lambda seconds: time.sleep(seconds) or b""  # type: ignore[func-returns-value]
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)

    def pressed(seconds: float) -> bytes:
        ready, _, _ = select.select([fd], [], [], seconds)
        return os.read(fd, 1) if ready else b""

    try:
        yield pressed
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
