"""Optional OpenTelemetry tracing: TRACING_ENABLED=true and the `tracing` extra installed.

Off, it costs nothing (FastAPI's telemetry off, no middleware). On: a server span per request,
a client span per SQL statement, the request id on every span; background work, health probes
and `/metrics` are not traced (docs/operations.md has the settings)."""

from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from fastapi.telemetry import TelemetryConfig
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from service.kit.state import StateSlot
from service.observability.context import current_request_id
from service.observability.settings import ObservabilitySettings

if TYPE_CHECKING:  # the SDK is the `tracing` extra: imported only when tracing is on
    from opentelemetry.sdk.trace import TracerProvider

REQUEST_ID_ATTRIBUTE = "inkwell.request_id"
UNTRACED_PATHS = ("/health/", "/metrics")
OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's built-in hooks look the global providers up on every request when left on
(docs/performance.md); Inkwell's own metrics and logs do not use them."""


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    path: str = scope.get("path", "")
    return path.startswith(UNTRACED_PATHS)


class RequestIdSpanMiddleware:
    """Puts the request id on the server span; sits right inside ObservabilityMiddleware (which
    chose the id), only when tracing is on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = current_request_id()
        if request_id is not None:
            trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        await self.app(scope, receive, send)


class Tracing:
    """The process' tracer provider and what is wired to it (`TRACING`, set by `create_app`)."""

    def __init__(self, provider: "TracerProvider", operation_spans: bool) -> None:
        self.provider = provider
        self.operation_spans = operation_spans

    @classmethod
    def from_settings(cls, settings: ObservabilitySettings) -> "Tracing | None":
        """None when tracing is off; a clear error when it is on without the extra."""
        if not settings.tracing_enabled:
            return None
        try:
            from service.observability import tracing_sdk
        except ImportError as error:
            raise RuntimeError(
                f"TRACING_ENABLED=true needs the `tracing` extra ({error.name} is missing):"
                " pip install -e '.[tracing]'"
            ) from None
        provider = tracing_sdk.provider(settings.tracing_exporter)
        return cls(provider, settings.tracing_operation_spans)

    def telemetry(self) -> TelemetryConfig:
        """FastAPI's native telemetry, tracing only, on this provider (never the global one)."""
        return {
            **OFF,
            "tracing": True,
            "tracer_provider": self.provider,
            "operation_spans": self.operation_spans,
            "auto_configure": False,
            "exclude": _untraced,
        }

    def instrument(self, engines: Sequence[AsyncEngine]) -> None:
        """A span per statement on each engine (pass base engines: an `execution_options()`
        derivative shares its parent's events)."""
        from service.observability import tracing_sdk

        for engine in engines:
            tracing_sdk.trace_statements(engine, self.provider)

    def shutdown(self) -> None:
        """Export what is buffered, then stop (the lifespan's end)."""
        self.provider.shutdown()


def telemetry_config(tracing: Tracing | None) -> TelemetryConfig:
    return tracing.telemetry() if tracing is not None else OFF


def tracing_middleware(tracing: Tracing | None) -> list[Middleware]:
    """Nothing when tracing is off."""
    return [] if tracing is None else [Middleware(RequestIdSpanMiddleware)]


TRACING: StateSlot[Tracing | None] = StateSlot("tracing")
"""The application's tracing, None when off (set by `create_app`)."""
