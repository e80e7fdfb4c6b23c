"""A durable, append-only spool of accepted records, in segment files that belong to one writer.

A segment starts with an 8-byte magic and holds frames: a little-endian u32 payload length, the
payload's u32 CRC-32, then the payload, the JSON of one record (``model_dump(mode="json")``, id
included, so replaying records that were in fact stored never duplicates them). A frame that is
cut short or fails its checksum ends the readable part of a file: a process killed mid-write
leaves exactly that, and everything before it still replays.

A writer holds an exclusive ``flock`` on each of its segments for as long as it lives, so other
writers (in this process or another) replay only files whose owner is gone. A segment is created
under a temporary name, locked, then renamed into place, so no file is ever visible unlocked
while its owner lives. Segments are deleted once every record in them is stored, dropped or
rejected (kept in the dead-letter file instead); the one being appended to is truncated
instead, and a new one is started past ``segment_bytes``, so the spool stays small while the
database keeps up. A replay reads a whole segment, so after a crash the records of a segment
that still held pending ones come back too: stored ones are skipped by id, rejected ones are
rejected (and dead-lettered) again.

Not thread-safe: the writer calls every method under its lock, except ``fsync``, which only
the writer's background thread calls, the same thread that closes segments."""

from __future__ import annotations

import fcntl
import os
import struct
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from obsstore.models import MetricRecord
from obsstore.writer.logs import logger

MAGIC = b"OBSSPL1\n"
FRAME_HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload
MAX_PAYLOAD = 16 << 20  # far above any valid record; a larger length is a torn header
SEGMENT_BYTES = 4 << 20
SUFFIX = ".spool"
_CREATING = ".spool-new"


def encode(records: Sequence[MetricRecord]) -> bytes:
    """The frames for ``records``, ready to append."""
    parts: list[bytes] = []
    for record in records:
        payload = record.model_dump_json().encode()
        parts.append(FRAME_HEADER.pack(len(payload), zlib.crc32(payload)))
        parts.append(payload)
    return b"".join(parts)


def decode(data: bytes, origin: str) -> list[MetricRecord]:
    """The records in a segment's bytes (magic included), up to the first torn or corrupt
    frame, which is skipped with a warning along with anything after it."""
    records: list[MetricRecord] = []
    offset = len(MAGIC)
    while offset < len(data):
        start = offset + FRAME_HEADER.size
        if start > len(data):
            reason = "cut short"
        else:
            length, checksum = FRAME_HEADER.unpack_from(data, offset)
            end = start + length
            if length > MAX_PAYLOAD or end > len(data):
                reason = "cut short"
            elif zlib.crc32(data[start:end]) != checksum:
                reason = "with a bad checksum"
            else:
                try:
                    records.append(MetricRecord.model_validate_json(data[start:end]))
                except ValidationError as exc:
                    logger.warning(
                        "%s: skipping an invalid spooled record at byte %d: %s", origin, offset, exc
                    )
                offset = end
                continue
        logger.warning(
            "%s: skipping a torn entry (%s) at byte %d, %d bytes; the %d records before it replay",
            origin,
            reason,
            offset,
            len(data) - offset,
            len(records),
        )
        break
    return records


@dataclass
class _Segment:
    fd: int
    path: Path
    size: int  # bytes written, magic included
    live: int = 0  # records in it not yet stored, dropped or rejected
    sealed: bool = False  # nothing more is appended (rotated, adopted, or a write failed)
    dirty: bool = False  # written since the last fsync


class Spool:
    encode = staticmethod(encode)

    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.live = 0  # records in the spool not yet stored, dropped or rejected
        self._token = uuid.uuid4().hex[:12]
        self._segments: dict[int, _Segment] = {}
        self._active: int | None = None
        self._next_id = 0
        self._directory_dirty = False

    # --- appending -----------------------------------------------------------------------
    def append(self, frames: bytes, count: int) -> int:
        """Hand ``frames`` (``count`` records) to the operating system; returns the segment id.
        Raises ``OSError`` when they could not be written, leaving no partial frame behind."""
        segment_id = self._writable_segment()
        segment = self._segments[segment_id]
        try:
            _write_all(segment.fd, frames)
        except OSError:
            # A partial frame would hide every later frame from a replay: cut it off, and keep
            # later appends out of this file in case that failed too.
            try:
                os.ftruncate(segment.fd, segment.size)
            except OSError:
                pass
            self._seal(segment_id)
            raise
        segment.size += len(frames)
        segment.live += count
        segment.dirty = True
        self.live += count
        return segment_id

    def _writable_segment(self) -> int:
        if self._active is not None:
            active = self._segments[self._active]
            if active.size < self.segment_bytes:
                return self._active
            self._seal(self._active)
        self._active = self._create_segment()
        return self._active

    def _create_segment(self) -> int:
        segment_id = self._next_id
        self._next_id += 1
        name = f"{os.getpid()}-{self._token}-{segment_id:06d}"
        creating = self.directory / (name + _CREATING)
        path = self.directory / (name + SUFFIX)
        fd = os.open(creating, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _write_all(fd, MAGIC)
            os.rename(creating, path)
        except OSError:
            os.close(fd)
            _unlink(creating)
            raise
        self._segments[segment_id] = _Segment(fd, path, len(MAGIC), dirty=True)
        self._directory_dirty = True
        return segment_id

    def _seal(self, segment_id: int) -> None:
        self._segments[segment_id].sealed = True
        if self._active == segment_id:
            self._active = None

    # --- replay --------------------------------------------------------------------------
    def adopt_orphans(self) -> list[tuple[int, list[MetricRecord]]]:
        """Lock and read every segment in the directory whose writer is gone. The files stay
        locked by this spool, and are deleted once their records are stored, so each is
        replayed by one writer only (another writer, seeing the lock, leaves them alone)."""
        self._remove_abandoned_creations()
        adopted: list[tuple[int, list[MetricRecord]]] = []
        for path in sorted(self.directory.glob("*" + SUFFIX), key=_age_then_name):
            segment = self._lock_orphan(path)
            if segment is None:
                continue
            data = _read_all(segment.fd)
            if len(data) >= len(MAGIC) and not data.startswith(MAGIC):
                logger.warning("%s is not an obsstore spool segment; leaving it alone", path)
                os.close(segment.fd)
                continue
            if len(data) < len(MAGIC) and data:
                logger.warning("%s: skipping a torn segment header (%d bytes)", path, len(data))
            records = decode(data, str(path)) if len(data) >= len(MAGIC) else []
            segment_id = self._next_id
            self._next_id += 1
            segment.size, segment.live, segment.sealed = len(data), len(records), True
            self._segments[segment_id] = segment
            self.live += len(records)
            if records:
                adopted.append((segment_id, records))
        self.collect()  # empty ones go at once
        return adopted

    def _lock_orphan(self, path: Path) -> _Segment | None:
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # a live writer's segment (flock locks are per open, so ours stays)
            return None
        if os.fstat(fd).st_nlink == 0:
            os.close(fd)  # its writer stored everything and deleted it while we waited
            return None
        return _Segment(fd, path, 0)

    def _remove_abandoned_creations(self) -> None:
        # A writer that died between creating and renaming a segment left a file holding at
        # most the magic; one still locked is being created right now.
        for path in self.directory.glob("*" + _CREATING):
            segment = self._lock_orphan(path)
            if segment is not None:
                _unlink(path)
                os.close(segment.fd)

    # --- bookkeeping ---------------------------------------------------------------------
    def release(self, segment_id: int, count: int) -> None:
        """``count`` records of the segment were stored, dropped or rejected."""
        self._segments[segment_id].live -= count
        self.live -= count

    def collect(self) -> None:
        """Delete sealed segments with no live records; truncate the active one when empty."""
        for segment_id, segment in list(self._segments.items()):
            if segment.live:
                continue
            try:
                if segment.sealed:
                    _unlink(segment.path)
                    os.close(segment.fd)
                    del self._segments[segment_id]
                elif segment.size > len(MAGIC):
                    os.ftruncate(segment.fd, len(MAGIC))
                    segment.size = len(MAGIC)
            except OSError as exc:
                logger.warning("could not clean up spool segment %s: %s", segment.path, exc)

    def take_unsynced(self) -> tuple[list[int], bool]:
        """The descriptors written since the last fsync, and whether the directory changed."""
        fds = [s.fd for s in self._segments.values() if s.dirty]
        for segment in self._segments.values():
            segment.dirty = False
        directory, self._directory_dirty = self._directory_dirty, False
        return fds, directory

    def fsync(self, fds: list[int], directory: bool) -> None:
        """Make what was handed to the operating system survive a power loss."""
        try:
            for fd in fds:
                os.fsync(fd)
            if directory:
                dir_fd = os.open(self.directory, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:
            logger.warning("could not fsync the spool in %s: %s", self.directory, exc)

    def close(self) -> None:
        """Release every segment: emptied ones are deleted, the rest stay for a later replay."""
        for segment in self._segments.values():
            segment.sealed = True
        self._active = None
        self.collect()
        for segment in self._segments.values():
            try:
                os.fsync(segment.fd)
            except OSError as exc:
                logger.warning("could not fsync spool segment %s: %s", segment.path, exc)
            os.close(segment.fd)
        self._segments.clear()

    def forget_after_fork(self) -> None:
        """In a forked child: close the inherited descriptors without touching the files, so
        the parent's locks do not outlive the parent in this process."""
        for segment in self._segments.values():
            try:
                os.close(segment.fd)
            except OSError:
                pass
        self._segments.clear()
        self._active = None
        self.live = 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _age_then_name(path: Path) -> tuple[float, str]:
    try:
        return (path.stat().st_mtime, path.name)
    except FileNotFoundError:
        return (0.0, path.name)
