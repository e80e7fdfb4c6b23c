"""copy moves a whole store between any two backends, losslessly, and resumes after an
interruption; export -> import through the command line gives the same points and spans."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from obsstore import ObservabilityStorage, create_storage, registry
from obsstore.cli import main
from obsstore.export.copy import copy_storage
from obsstore.export.trace_formats import DERIVED_SPAN_FIELDS
from tests.conftest import BACKENDS
from tests.export.data import sample_points, sample_spans


def _url(kind: str, role: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    entry = registry.get(kind)
    if entry.profile is None:
        return kind
    if entry.profile.file_suffix is not None:
        return f"{entry.url_scheme}:///{tmp_path / role}{entry.profile.file_suffix}"
    return str(request.getfixturevalue(f"fresh_{kind}_url" if role == "target" else f"{kind}_url"))


@pytest.fixture
def pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ObservabilityStorage, ObservabilityStorage]]:
    source_kind, target_kind = request.param
    source = create_storage(_url(source_kind, "source", tmp_path, request))
    target = create_storage(_url(target_kind, "target", tmp_path, request))
    with source, target:
        source.init()
        source.dangerously_clear_all()
        target.init()
        target.dangerously_clear_all()
        yield source, target  # type: ignore[misc]


def _spans(storage: ObservabilityStorage) -> list[dict]:  # type: ignore[type-arg]
    return [s.model_dump(exclude=DERIVED_SPAN_FIELDS) for s in storage.iter_spans()]


@pytest.mark.parametrize(
    "pair",
    [(a, b) for a in BACKENDS for b in BACKENDS],
    indirect=True,
    ids=lambda p: f"{p[0]}-to-{p[1]}",
)
def test_copy_between_every_pair_of_backends_resumes_and_never_duplicates(
    pair: tuple[ObservabilityStorage, ObservabilityStorage],
) -> None:
    source, target = pair
    source.batch_record_metrics(sample_points(90))
    source.batch_create_spans(sample_spans())

    class Interrupted(Exception):
        pass

    def stop_after_first_batch(stats: object) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        copy_storage(source, target, batch_size=40, progress=stop_after_first_batch)
    assert target.count_metrics() == 40
    resumed = copy_storage(source, target, batch_size=40)
    assert (resumed.metrics, resumed.metrics_stored) == (90, 50)
    assert (resumed.spans, resumed.spans_stored) == (3, 3)
    assert list(target.iter_metrics()) == list(source.iter_metrics())
    assert _spans(target) == _spans(source)
    again = copy_storage(source, target)
    assert (again.metrics_stored, again.spans_stored) == (0, 0)


def test_command_line_export_import_and_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    with create_storage(source) as storage:
        storage.init()
        storage.batch_record_metrics(sample_points(30))
        storage.batch_create_spans(sample_spans())
        expected = list(storage.iter_metrics())
        expected_spans = _spans(storage)  # type: ignore[arg-type]
    metrics_file, traces_file = tmp_path / "m.jsonl.gz", tmp_path / "t.jsonl"
    assert main(["export", "metrics", str(metrics_file), "--url", source]) == 0
    assert main(["export", "traces", str(traces_file), "--url", source]) == 0
    imported = f"duckdb:///{tmp_path / 'b.duckdb'}"
    assert main(["import", str(metrics_file), "--url", imported]) == 0
    assert main(["import", str(traces_file), "--url", imported]) == 0
    copied = f"sqlite:///{tmp_path / 'c.db'}"
    assert main(["copy", "--from", imported, "--to", copied]) == 0
    for url in (imported, copied):
        with create_storage(url) as storage:
            assert list(storage.iter_metrics()) == expected
            assert _spans(storage) == expected_spans  # type: ignore[arg-type]
    filtered = tmp_path / "f.csv"
    assert (
        main(
            [
                "export",
                "metrics",
                str(filtered),
                "--format",
                "csv",
                "--name",
                "http.requests",
                "--service",
                "api",
                "--url",
                source,
            ]
        )
        == 0
    )
    rows = filtered.read_text().splitlines()[1:]
    assert rows and all(",http.requests,counter," in row for row in rows)
    assert main(["export", "metrics", str(tmp_path / "x"), "--format", "xml", "--url", source]) == 2
    assert "format" in capsys.readouterr().err
