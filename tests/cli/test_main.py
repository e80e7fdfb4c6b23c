"""``obsstore.cli.main``: the console script's exit statuses and one-line errors."""

from __future__ import annotations

import sys

import pytest

from obsstore.cli import main


def test_usage_errors_are_one_line_and_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nope"]) == 2
    assert capsys.readouterr().err == "obsstore: No such command 'nope'.\n"
    assert main(["metrics", "query", "m", "--agg", "median", "--url", "memory"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("obsstore: metrics query: ") and err.count("\n") == 1


def test_a_missing_file_is_not_created(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"{tmp_path}/absent.db"
    assert main(["metrics", "names", "--url", f"sqlite:///{database}"]) == 2
    assert capsys.readouterr().err == f"obsstore: no database at {database}\n"


def test_without_the_cli_extra_it_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "typer" or m.startswith("obsstore.cli.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "typer", None)  # what an install without typer sees
    assert main(["check"]) == 2
    assert "pip install 'obsstore[cli]'" in capsys.readouterr().err


def test_status_of_an_unreachable_database_is_status_3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens once the probe is closed
    url = f"postgresql://obsstore@127.0.0.1:{port}/nothing"
    assert main(["status", "--json", "--url", url]) == 3
    health = json.loads(capsys.readouterr().out)
    assert health["reachable"] is False and health["error"]
    assert main(["metrics", "names", "--url", url]) == 3
    err = capsys.readouterr().err
    assert err.startswith("obsstore: ") and err.count("\n") == 1
