"""The OpenTelemetry SDK half of `tracing.py`, imported only when TRACING_ENABLED=true (the
`tracing` extra: a runtime-only install never imports it)."""

import os
from collections.abc import Sequence

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import __version__ as instrumentation
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes
from sqlalchemy.ext.asyncio import AsyncEngine

from service.observability.context import current_request_id
from service.observability.tracing import REQUEST_ID_ATTRIBUTE


class RequestRootsOnly(Sampler):
    """A trace starts only at a server span: a span without a parent that is not one (a
    background poll's statement) is dropped; the rest is the configured sampler's call."""

    def __init__(self, delegate: Sampler) -> None:
        self.delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if kind is not SpanKind.SERVER and not parent.is_valid:
            return SamplingResult(Decision.DROP)
        return self.delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"RequestRootsOnly{{{self.delegate.get_description()}}}"


class RequestIdProcessor(SpanProcessor):
    """Every span started inside a request carries its request id."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        request_id = current_request_id()
        if request_id is not None:
            span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)


def provider(exporter: str) -> TracerProvider:
    """The SDK's sampler from OTEL_TRACES_SAMPLER, behind `RequestRootsOnly`."""
    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "inkwell"}
    tracer_provider = TracerProvider(resource=Resource.create(named))
    tracer_provider.sampler = RequestRootsOnly(tracer_provider.sampler)
    tracer_provider.add_span_processor(RequestIdProcessor())
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif exporter == "console":
        tracer_provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    return tracer_provider


def trace_statements(engine: AsyncEngine, tracer_provider: TracerProvider) -> None:
    """opentelemetry-instrumentation-sqlalchemy's listeners on this engine, with this provider
    (its instrumentor patches `create_engine` process-wide, for the global provider only)."""
    tracer = tracer_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", instrumentation)
    # The instrumentation's pool-usage metric goes nowhere: /metrics has the pool already.
    usage = metrics.NoOpMeterProvider().get_meter("inkwell").create_up_down_counter("unused")
    EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]  # untyped
