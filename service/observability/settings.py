"""The observability section of the settings: log format, SQL logging and tracing."""

from typing import Literal

from pydantic import Field

from service.kit.settings import KitSettings


class ObservabilitySettings(KitSettings):
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: console in development, JSON lines otherwise"
    )
    tracing_enabled: bool = Field(
        default=False,
        description="OpenTelemetry spans for requests and SQL (needs the `tracing` extra)",
    )
    tracing_exporter: Literal["otlp", "console", "none"] = Field(
        default="otlp", description="otlp: to OTEL_EXPORTER_OTLP_* (HTTP); none: in-process"
    )
    tracing_operation_spans: bool = Field(
        default=True, description="also spans for dependency resolution, endpoint, serialization"
    )
    db_slow_query_ms: float = Field(
        default=200.0, ge=0, description="log statements slower than this (0 logs all)"
    )
    db_echo: bool = Field(default=False, description="log every SQL statement")
