"""The command line on every backend: ``cli`` runs ``obsstore`` through typer's CliRunner
against the same store the shared ``storage`` fixture holds (by ``--url`` for the SQL
backends; the in-process memory backend is handed over as ``obj``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from obsstore import ObservabilityStorage
from obsstore.cli.app import app
from obsstore.cli.common import CliState
from tests.conftest import url_for


@dataclass
class Cli:
    storage: ObservabilityStorage
    url: str | None  # None: the memory backend, handed over in-process

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        if self.url is None:
            return runner.invoke(app, list(args), obj=CliState(self.storage), env=env)
        return runner.invoke(app, [*args, "--url", self.url], env=env)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture
def cli(
    storage: ObservabilityStorage, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Cli:
    url = url_for(backend, tmp_path, request)
    return Cli(storage, None if url == backend else url)
