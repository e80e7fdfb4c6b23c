"""Where exports go and imports come from: a path or a binary file, gzip or not."""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO

from obsstore.errors import InvalidArgumentError

Target = str | os.PathLike[str] | BinaryIO
GZIP_MAGIC = b"\x1f\x8b"


def wants_gzip(out: Any, compress: bool | None) -> bool:
    """``compress=None``: gzip when the path ends in ``.gz``; a file object is not compressed
    unless ``compress=True``."""
    if compress is not None:
        if not isinstance(compress, bool):
            raise InvalidArgumentError("compress must be None, True or False")
        return compress
    return isinstance(out, (str, os.PathLike)) and str(out).endswith(".gz")


class _Counting(io.RawIOBase):
    """Counts the bytes written through to ``raw``."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        written = self.raw.write(data)
        self.count += len(data)
        return written if written is not None else len(data)


@contextmanager
def open_output(out: Target, *, gzipped: bool) -> Iterator[tuple[BinaryIO, _Counting]]:
    """A binary stream to write to, and the counter of bytes that reached ``out``. A path is
    written to a temporary file beside it and renamed at the end, so a failed export never
    leaves a truncated file under the requested name."""
    if isinstance(out, (str, os.PathLike)):
        path = Path(out)
        partial = path.with_name(path.name + ".partial")
        try:
            with open(partial, "wb") as raw:
                counting = _Counting(raw)
                with _wrapped(counting, gzipped) as stream:
                    yield stream, counting
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return
    if not hasattr(out, "write"):
        raise InvalidArgumentError("out must be a path or a binary file opened for writing")
    counting = _Counting(out)
    with _wrapped(counting, gzipped) as stream:
        yield stream, counting


@contextmanager
def _wrapped(counting: _Counting, gzipped: bool) -> Iterator[BinaryIO]:
    if gzipped:
        with gzip.GzipFile(fileobj=counting, mode="wb", mtime=0) as stream:
            yield stream  # type: ignore[misc]
        return
    buffered = io.BufferedWriter(counting, buffer_size=1 << 16)
    try:
        yield buffered
    finally:
        buffered.flush()
        buffered.detach()


@contextmanager
def open_input(source: Target) -> Iterator[BinaryIO]:
    """A binary stream of ``source``'s content, gunzipped when it starts with gzip's magic."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as raw:
            with _maybe_gunzip(raw) as stream:
                yield stream
        return
    if not hasattr(source, "read"):
        raise InvalidArgumentError("source must be a path or a binary file opened for reading")
    with _maybe_gunzip(source) as stream:
        yield stream


@contextmanager
def _maybe_gunzip(raw: BinaryIO) -> Iterator[BinaryIO]:
    buffered: Any = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
    head = buffered.peek(2)[:2]
    if head == GZIP_MAGIC:
        with gzip.GzipFile(fileobj=buffered, mode="rb") as stream:
            yield stream  # type: ignore[misc]
    else:
        yield buffered
