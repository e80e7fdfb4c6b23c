"""ObsstoreSpanExporter under the real OpenTelemetry SDK, on every backend: nested spans,
errors with exception events, events, links, resource and scope."""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from obsstore import ObservabilityStorage
from obsstore.otel import ObsstoreSpanExporter


def test_nested_spans_errors_and_events_are_stored(storage: ObservabilityStorage) -> None:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "shop", "deployment.environment": "staging"})
    )
    provider.add_span_processor(BatchSpanProcessor(ObsstoreSpanExporter(storage)))
    tracer = provider.get_tracer("tests.shop", "2.0")
    with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER) as root:
        root.set_attribute("cart.items", 3)
        root.set_attribute("tags", ["a", "b"])
        with tracer.start_as_current_span("load cart", kind=SpanKind.CLIENT) as child:
            child.add_event("cache miss", {"key": "cart:1"})
        try:
            with tracer.start_as_current_span("charge") as failing:
                failing.add_event("retry", {"attempt": 2})
                raise ValueError("card declined")
        except ValueError:
            pass
    with tracer.start_as_current_span(
        "ok with status", links=[Link(root.get_span_context(), {"why": "follow-up"})]
    ) as other:
        other.set_status(Status(StatusCode.OK))
    provider.shutdown()

    trace_id = format(root.get_span_context().trace_id, "032x")
    stored = storage.get_trace(trace_id)
    assert stored is not None
    by_name = {s.name: s for s in stored.spans}
    assert set(by_name) == {"checkout", "load cart", "charge"}
    checkout, load, charge = by_name["checkout"], by_name["load cart"], by_name["charge"]
    assert checkout.parent_span_id is None
    assert checkout.span_id == format(root.get_span_context().span_id, "016x")
    assert load.parent_span_id == charge.parent_span_id == checkout.span_id
    assert (checkout.span_type, load.span_type, charge.span_type) == (
        "server",
        "client",
        "internal",
    )
    assert checkout.attributes == {"cart.items": 3, "tags": ["a", "b"]}
    assert checkout.service_name == "shop" and checkout.environment == "staging"
    assert checkout.scope == {"name": "tests.shop", "version": "2.0"}
    assert checkout.metadata["resource"]["service.name"] == "shop"
    assert checkout.started_at <= load.started_at <= load.ended_at <= checkout.ended_at
    # The error: the status description and the exception event.
    assert charge.status.value == "error" and checkout.status.value == "success"
    assert charge.error["message"] == "ValueError: card declined"
    (exception,) = charge.error["exceptions"]
    assert exception["type"] == "ValueError" and exception["message"] == "card declined"
    assert "Traceback" in exception["stacktrace"]
    assert [e["name"] for e in charge.metadata["events"]] == ["retry", "exception"]
    assert load.metadata["events"][0]["attributes"] == {"key": "cart:1"}
    summary = storage.list_traces({"trace_id": trace_id}).data[0]
    assert summary.has_child_error

    other_id = format(other.get_span_context().trace_id, "032x")
    linked = storage.get_trace(other_id)
    assert linked is not None
    (span,) = linked.spans
    assert span.metadata["status_code"] == "OK" and span.error is None
    assert span.metadata["links"] == [
        {"trace_id": trace_id, "span_id": checkout.span_id, "attributes": {"why": "follow-up"}}
    ]


def test_exporting_spans_twice_stores_them_once(storage: ObservabilityStorage) -> None:
    exporter = ObsstoreSpanExporter(storage)
    provider = TracerProvider()
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("a") as a:
        pass
    readable = [a]  # the SDK span is a ReadableSpan once ended
    assert exporter.export(readable).name == "SUCCESS"  # type: ignore[arg-type]
    assert exporter.export(readable).name == "SUCCESS"  # type: ignore[arg-type]
    assert len(storage.get_trace(format(a.get_span_context().trace_id, "032x")).spans) == 1  # type: ignore[union-attr]
    assert (
        trace.SpanKind.INTERNAL.name.lower()
        == storage.get_root_span(format(a.get_span_context().trace_id, "032x")).span_type
    )  # type: ignore[union-attr]
