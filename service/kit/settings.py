"""The generic part of the runtime configuration, read from the environment (and `.env`).

Every package declares its section as a subclass (`service/<package>/settings.py`), composed into
`service/settings.py`'s `Settings` so variable names stay flat; kit reads the composed object as
`KitSettings` (docs/architecture.md)."""

from typing import Annotated, Literal, TypeVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.kit.state import StateSlot

_DRIVERS = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg"}
_DRIVERS |= {"sqlite": "sqlite+aiosqlite"}


def with_async_driver(url: str) -> str:
    """`postgres://` and `postgresql://` (psql's spellings) as asyncpg URLs; `sqlite://` as
    aiosqlite. Anything else is returned unchanged (an unknown driver fails at connect)."""
    scheme, sep, rest = url.partition("://")
    return f"{_DRIVERS[scheme]}{sep}{rest}" if sep and scheme in _DRIVERS else url


def comma_separated(value: object) -> object:
    """A list variable given as one comma-separated string (`A, B`), as a list."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class KitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    database_url: str = "sqlite+aiosqlite:///./inkwell.db"
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=5, ge=0)
    db_pool_timeout: float = Field(default=3.0, gt=0, description="seconds to wait for a pool slot")
    db_pool_ping_idle_seconds: float = Field(
        default=1.0,
        ge=0,
        description="ping a pooled connection before reuse only if it idled longer (0: always)",
    )
    db_session_limit: int = Field(
        default=0,
        ge=0,
        description="max concurrent DB sessions per process, FIFO-queued (0: DB_POOL_SIZE)",
    )
    db_pool_recycle: int = Field(default=1800, description="seconds before a connection is renewed")
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)
    db_plan_cache_mode: Literal["auto", "force_generic_plan", "force_custom_plan"] = Field(
        default="force_generic_plan",
        description="PostgreSQL plan_cache_mode of the app's connections (docs/performance.md)",
    )
    db_command_timeout: float = Field(default=20.0, gt=0, description="client-side query timeout")
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_sqlite_busy_timeout_ms: int = Field(default=5_000, ge=0)
    db_echo: bool = False
    db_pgbouncer: bool = Field(
        default=False,
        description="PgBouncer transaction mode: no statement cache, unique prepared statement"
        " names, no startup server_settings, reads inside transactions",
    )

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
    shutdown_delay_seconds: float = Field(
        default=0.0,
        ge=0,
        description="after SIGTERM keep serving (readiness 503) this long before draining",
    )

    http_max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="request line + headers; larger: 431 (serve.py)"
    )
    http_header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="a request head slower than this: 408, closed"
    )
    http_send_timeout_seconds: float = Field(
        default=20.0, gt=0, description="a client that reads nothing for this long is dropped"
    )
    proxy_headers: bool = Field(
        default=False,
        description="client address and scheme from X-Forwarded-For/-Proto of FORWARDED_ALLOW_IPS",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1",
        description="peers (IPs, CIDR networks) whose X-Forwarded-* is trusted if PROXY_HEADERS",
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1, description="larger bodies get 413")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated allowed origins; empty = CORS closed"
    )
    rate_limit_storage_uri: str = Field(
        default="memory://",
        description="limits storage URI; redis://host:6379/0 shares counters between instances",
    )
    retry_after_seconds: int = Field(default=2, ge=1, description="Retry-After on 503")
    read_cache_seconds: int = Field(
        default=5,
        ge=0,
        le=24 * 3600,
        description="max-age of anonymous reads (Cache-Control: public); 0: revalidate each time",
    )
    gc_freeze: bool = Field(
        default=True,
        description="after startup, exempt the startup heap from garbage collection (gc.freeze)",
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return with_async_driver(value)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return comma_separated(value)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


SETTINGS: StateSlot[KitSettings] = StateSlot("settings")
"""The application's settings (set by `create_app`), as far as kit reads them."""

Section = TypeVar("Section", bound=KitSettings)


def section_slot(section: type[Section]) -> StateSlot[Section]:
    """`SETTINGS` read as one package's section: the application's `Settings` (what
    `create_app` puts there) subclasses every section, so the read is sound."""
    del section  # only its type matters
    return StateSlot(SETTINGS.name)
