"""``obsstore serve otlp``: an OTLP/HTTP receiver (starlette on uvicorn).

``POST /v1/metrics`` and ``POST /v1/traces`` take protobuf (``application/x-protobuf``) or
JSON (``application/json``) bodies, gzip-compressed or not, from any OpenTelemetry SDK or a
collector. Cumulative streams become deltas per stream (a changed start time or a falling
total is a reset); points and spans that cannot be stored are answered in
``partial_success``. Metric points go through a ``MetricsWriter`` (the request returns once
they are accepted, a slow database never stalls senders); spans are written before the answer.
Bodies are limited in size, compressed and uncompressed."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from obsstore.models import MetricRecord
from obsstore.otel.mapping import to_record
from obsstore.otel.otlp_json import ids_hex_to_base64
from obsstore.otel.spans import to_span
from obsstore.otel.temporality import DeltaConverter
from obsstore.serve.otlp_proto import metric_points, span_parts
from obsstore.storage.base import ObservabilityStorage
from obsstore.writer import MetricsWriter

DEFAULT_PORT = 4318
MAX_BODY_BYTES = 16 * 2**20  # after decompression too
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ReceiverStats:
    points_received: int = 0
    points_rejected: int = 0
    spans_received: int = 0
    spans_rejected: int = 0


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BadRequest(413, f"body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BadRequest(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise _BadRequest(400, f"invalid gzip body: {exc}") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise _BadRequest(413, f"uncompressed body larger than {limit} bytes")
    elif encoding not in ("identity", ""):
        raise _BadRequest(415, f"unsupported Content-Encoding {encoding!r}")
    return body


def _content_type(request: Request) -> str:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise _BadRequest(415, f"Content-Type must be {PROTOBUF} or {JSON}")
    return kind


def _parse(body: bytes, kind: str, message: Message) -> None:
    try:
        if kind == PROTOBUF:
            message.ParseFromString(body)
        else:
            json_format.ParseDict(
                ids_hex_to_base64(json.loads(body or b"{}")), message, ignore_unknown_fields=True
            )
    except (DecodeError, json_format.ParseError, ValueError) as exc:
        raise _BadRequest(400, f"cannot decode the request: {exc}") from None


def _answer(message: Message, kind: str, status: int = 200) -> Response:
    if kind == PROTOBUF:
        return Response(message.SerializeToString(), status, media_type=PROTOBUF)
    body = json.dumps(json_format.MessageToDict(message)).encode()
    return Response(body, status, media_type=JSON)


def _error(exc: _BadRequest, request: Request) -> Response:
    # OTLP answers errors with a google.rpc.Status; its message is what senders log.
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == PROTOBUF:
        return Response(_status_bytes(3, str(exc)), exc.status, media_type=PROTOBUF)
    return Response(json.dumps({"code": 3, "message": str(exc)}), exc.status, media_type=JSON)


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _status_bytes(code: int, message: str) -> bytes:
    """A google.rpc.Status (code = field 1, message = field 2) in protobuf's wire format."""
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


class OtlpReceiver:
    """The receiver's state: the storage, the writer, the cumulative-to-delta converter."""

    def __init__(
        self,
        storage: ObservabilityStorage,
        writer: MetricsWriter | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.storage = storage
        self.writer = writer if writer is not None else MetricsWriter(storage)
        self._own_writer = writer is None
        self.max_body_bytes = max_body_bytes
        self.converter = DeltaConverter()
        self.stats = ReceiverStats()
        self._stats_lock = threading.Lock()

    def close(self) -> None:
        if self._own_writer:
            self.writer.close()

    def metrics_records(
        self, request: ExportMetricsServiceRequest
    ) -> tuple[list[MetricRecord], int, str]:
        records: list[MetricRecord] = []
        rejected, reasons = 0, []
        for item in metric_points(request):
            if isinstance(item[0], str):
                reason, count = item
                rejected += count
                reasons.append(reason)
                continue
            stream, point = item
            try:
                converted = self.converter.convert(stream, point)
                if converted is not None:
                    records.append(to_record(stream, converted))
            except (ValidationError, ValueError) as exc:
                rejected += 1
                reasons.append(f"metric {stream.name!r}: {_first_line(exc)}")
        return records, rejected, "; ".join(dict.fromkeys(reasons))[:1000]

    async def metrics(self, request: Request) -> Response:
        try:
            kind = _content_type(request)
            message = ExportMetricsServiceRequest()
            _parse(await _body(request, self.max_body_bytes), kind, message)
        except _BadRequest as exc:
            return _error(exc, request)
        records, rejected, reason = self.metrics_records(message)
        if records:
            self.writer.record_many(records)
        with self._stats_lock:
            self.stats.points_received += len(records)
            self.stats.points_rejected += rejected
        response = ExportMetricsServiceResponse()
        if rejected:
            response.partial_success.rejected_data_points = rejected
            response.partial_success.error_message = reason
        return _answer(response, kind)

    async def traces(self, request: Request) -> Response:
        try:
            kind = _content_type(request)
            message = ExportTraceServiceRequest()
            _parse(await _body(request, self.max_body_bytes), kind, message)
        except _BadRequest as exc:
            return _error(exc, request)
        spans, rejected, reasons = [], 0, []
        for parts in span_parts(message):
            try:
                spans.append(to_span(parts))
            except (ValidationError, ValueError) as exc:
                rejected += 1
                reasons.append(_first_line(exc))
        if spans:
            try:
                await run_in_threadpool(self.storage.batch_create_spans, spans)
            except Exception as exc:  # the database failed: the sender retries (503)
                return _error(_BadRequest(503, f"storage unavailable: {exc}"), request)
        with self._stats_lock:
            self.stats.spans_received += len(spans)
            self.stats.spans_rejected += rejected
        response = ExportTraceServiceResponse()
        if rejected:
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = "; ".join(dict.fromkeys(reasons))[:1000]
        return _answer(response, kind)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def create_app(receiver: OtlpReceiver) -> Starlette:
    routes: list[Route] = [
        Route("/v1/metrics", _route(receiver.metrics), methods=["POST"]),
        Route("/v1/traces", _route(receiver.traces), methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(receiver.close)  # writes what is still buffered

    return Starlette(routes=routes, lifespan=lifespan)


def _route(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(request)

    return endpoint


class RunningServer:
    """A uvicorn server on a background thread (tests, embedding)."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="obsstore-otlp", daemon=True)
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the OTLP receiver did not start")
            threading.Event().wait(0.02)
        self.port: int = self.server.servers[0].sockets[0].getsockname()[1]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def main_serve(url: str | None, port: int, host: str) -> int:
    """``obsstore serve otlp``: serve until interrupted; the exit code."""
    import uvicorn

    from obsstore import create_storage

    storage: Any = create_storage(url)
    with storage:
        storage.init()
        receiver = OtlpReceiver(storage)
        print(f"obsstore: OTLP/HTTP receiver on http://{host}:{port}/v1/...", file=sys.stderr)
        uvicorn.run(create_app(receiver), host=host, port=port, log_level="info")
    return 0
