"""Optional tracing (service/observability/tracing.py), recorded by the SDK's in-memory
exporter: the app, its lifespan and its database are real; only the export stays in-process."""

import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_trace_id

from service.main import create_app
from service.observability.tracing import (
    REQUEST_ID_ATTRIBUTE,
    TRACING,
    RequestIdSpanMiddleware,
)
from tests.support.migrations import backend_database
from tests.support.paths import ROOT
from tests.support.settings import make_settings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"


def traceparent(sampled: bool = True) -> str:
    return f"00-{TRACE_ID}-{CALLER_SPAN_ID}-{'01' if sampled else '00'}"


@pytest.fixture
async def traced(
    backend: str, tmp_path: Path
) -> AsyncIterator[tuple[AsyncClient, InMemorySpanExporter]]:
    async with backend_database(backend, tmp_path, "tracing") as url:
        app = create_app(make_settings(url, tracing_enabled=True, tracing_exporter="none"))
        tracing = TRACING.of(app)
        assert tracing is not None
        exporter = InMemorySpanExporter()
        tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app), base_url="http://test") as client,
        ):
            yield client, exporter


def server_span(spans: Sequence[ReadableSpan]) -> ReadableSpan:
    servers = [span for span in spans if span.kind is SpanKind.SERVER]
    assert len(servers) == 1, [span.name for span in spans]
    return servers[0]


def statements_under(server: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    """The SQL spans whose chain of parents reaches `server`."""
    by_id = {span.context.span_id: span for span in spans}
    found = []
    for span in spans:
        if span.kind is not SpanKind.CLIENT:
            continue
        parent = span.parent
        while parent is not None and parent.span_id != server.context.span_id:
            above = by_id.get(parent.span_id)
            parent = above.parent if above is not None else None
        if parent is not None:
            found.append(span)
    return found


async def test_a_request_continues_the_callers_trace_with_its_request_id_and_sql_spans(
    traced: tuple[AsyncClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced
    headers = {"traceparent": traceparent(), "X-Request-ID": "trace-me-1"}
    response = await client.get("/api/v1/posts", headers=headers)
    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    server = server_span(spans)
    assert format_trace_id(server.context.trace_id) == TRACE_ID
    assert server.parent is not None
    assert server.parent.span_id == int(CALLER_SPAN_ID, 16)
    assert server.name == "GET /api/v1/posts"
    assert server.attributes is not None
    assert server.attributes[REQUEST_ID_ATTRIBUTE] == "trace-me-1"
    assert server.attributes["http.response.status_code"] == 200
    statements = statements_under(server, spans)
    assert statements, [(span.name, span.kind) for span in spans]
    for span in statements:
        assert span.context.trace_id == server.context.trace_id
        assert span.attributes is not None
        assert span.attributes[REQUEST_ID_ATTRIBUTE] == "trace-me-1"
    assert any("SELECT" in str(span.attributes) for span in statements)


async def test_a_write_without_traceparent_starts_a_trace_with_the_generated_request_id(
    traced: tuple[AsyncClient, InMemorySpanExporter],
) -> None:
    """Writes go through the primary's engine (an `execution_options()` derivative)."""
    client, exporter = traced
    response = await client.post(
        "/api/v1/users",
        json={"username": "traced", "email": "traced@example.com", "password": "pass-word-1"},
    )
    assert response.status_code == 201
    spans = exporter.get_finished_spans()
    server = server_span(spans)
    assert server.parent is None
    assert server.attributes is not None
    assert server.attributes[REQUEST_ID_ATTRIBUTE] == response.headers["X-Request-ID"]
    inserts = [s for s in statements_under(server, spans) if "INSERT" in str(s.attributes)]
    assert inserts, [span.name for span in spans]


async def test_statements_outside_requests_and_unsampled_callers_are_not_recorded(
    traced: tuple[AsyncClient, InMemorySpanExporter],
) -> None:
    """Startup and the background polls run statements: none starts a trace of its own."""
    client, exporter = traced
    response = await client.get("/api/v1/posts", headers={"traceparent": traceparent(False)})
    assert response.status_code == 200
    assert (await client.get("/health/ready")).status_code == 200
    assert exporter.get_finished_spans() == ()


async def test_off_by_default_adds_nothing(backend: str, tmp_path: Path) -> None:
    async with backend_database(backend, tmp_path, "untraced") as url:
        app: FastAPI = create_app(make_settings(url))
        on = create_app(make_settings(url, tracing_enabled=True, tracing_exporter="none"))
    assert TRACING.of(app) is None
    untraced: list[object] = [m.cls for m in app.user_middleware]
    traced: list[object] = [m.cls for m in on.user_middleware]
    assert RequestIdSpanMiddleware not in untraced
    assert traced == [untraced[0], RequestIdSpanMiddleware, *untraced[1:]]


def test_on_without_the_extra_says_what_to_install() -> None:
    """A runtime-only install (`make run`) has no SDK: the start fails naming the extra."""
    code = (
        "import sys; sys.modules['opentelemetry.sdk'] = None\n"
        "from service.observability.tracing import Tracing\n"
        "from tests.support.settings import make_settings\n"
        "Tracing.from_settings(make_settings('sqlite+aiosqlite://', tracing_enabled=True))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: TRACING_ENABLED=true needs the `tracing` extra")
    assert "(opentelemetry.sdk" in last
    assert last.endswith("is missing): pip install -e '.[tracing]'")
