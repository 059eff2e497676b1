"""Runtime configuration, read from the environment (and an optional `.env` file)."""

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from service.kit.state import StateSlot

DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me-0123456789"
"""The public secret older versions used by default: refused in production."""
JWT_SECRET_FILE = ".inkwell-jwt-secret"
_DRIVERS = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg"}
_DRIVERS |= {"sqlite": "sqlite+aiosqlite"}


def with_async_driver(url: str) -> str:
    """`postgres://` and `postgresql://` (psql's spellings) as asyncpg URLs; `sqlite://` as
    aiosqlite. Anything else is returned unchanged (an unknown driver fails at connect)."""
    scheme, sep, rest = url.partition("://")
    return f"{_DRIVERS[scheme]}{sep}{rest}" if sep and scheme in _DRIVERS else url


def development_secret(database_url: str, path: str | None) -> str:
    """The secret kept beside the data (mode 0600), created on first start: tokens survive a
    restart, and nobody else knows it. Several workers starting at once agree on one file."""
    if path is None:
        database = make_url(with_async_driver(database_url)).database
        sqlite = database_url.startswith("sqlite") and database not in (None, "", ":memory:")
        path = str(Path(database or ".").parent / JWT_SECRET_FILE) if sqlite else JWT_SECRET_FILE
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return target.read_text(encoding="utf-8").strip()
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(48))
    return target.read_text(encoding="utf-8").strip()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    database_url: str = "sqlite+aiosqlite:///./inkwell.db"
    database_replica_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
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
    db_replica_max_lag: float = Field(
        default=10.0, gt=0, description="seconds a replica may lag before it is skipped"
    )
    db_replica_cooldown: float = Field(
        default=10.0, gt=0, description="seconds a failed or lagging replica is skipped"
    )
    db_replica_check_interval: float = Field(
        default=1.0, gt=0, description="seconds between replica health/lag checks"
    )

    jwt_secret: str = Field(
        min_length=32,
        description="required in production; development keeps a generated one in JWT_SECRET_FILE",
    )
    jwt_secret_file: str | None = Field(
        default=None,
        description="where development keeps its generated secret (default: beside the SQLite"
        " database, else ./.inkwell-jwt-secret)",
    )
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_issuer: str = "inkwell"
    jwt_audience: str = "inkwell-api"
    jwt_expire_seconds: int = Field(default=3600, ge=60)

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

    realtime_listen_url: str | None = Field(
        default=None,
        description="direct (not PgBouncer) PostgreSQL URL for LISTEN; default DATABASE_URL",
    )
    realtime_queue_size: int = Field(
        default=64, ge=1, description="messages buffered per websocket before it is dropped"
    )
    realtime_reconnect_max_seconds: float = Field(
        default=5.0, gt=0, description="cap of the LISTEN reconnect backoff"
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
    max_body_bytes: int = Field(default=1024 * 1024, ge=1, description="larger bodies get 413")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated allowed origins; empty = CORS closed"
    )
    login_rate_limit: str = Field(
        default="10/minute",
        description="login attempts allowed per client address and per username (limits syntax)",
    )
    write_rate_limit: str = Field(
        default="300/minute",
        description="writes per user (per client address when anonymous); empty or off: none",
    )
    search_rate_limit: str = Field(
        default="120/minute", description="full-text searches per user (per address when anonymous)"
    )
    export_rate_limit: str = Field(
        default="10/minute", description="exports per user (per client address when anonymous)"
    )
    rate_limit_storage_uri: str = Field(
        default="memory://",
        description="limits storage URI; redis://host:6379/0 shares counters between instances",
    )
    password_hash_concurrency: int = Field(
        default=0, ge=0, description="password hashes run at once per process (0: CPU count)"
    )
    password_hash_queue: int = Field(
        default=512,
        ge=0,
        description="password hashes that may wait for a turn per process; past it: 503",
    )
    password_hash_memory_kib: int = Field(
        default=65536,
        ge=32,
        description="argon2 memory cost of a new hash (KiB); below the default only outside"
        " production (the test suite uses a tiny one)",
    )
    password_hash_time_cost: int = Field(
        default=3, ge=1, description="argon2 passes of a new hash; below 3 only outside production"
    )
    idempotency_ttl_seconds: int = Field(
        default=24 * 3600, ge=60, description="how long an Idempotency-Key is remembered"
    )
    retry_after_seconds: int = Field(default=2, ge=1, description="Retry-After on 503")
    read_cache_seconds: int = Field(
        default=5,
        ge=0,
        le=24 * 3600,
        description="max-age of anonymous reads (Cache-Control: public); 0: revalidate each time",
    )
    idempotency_lease_seconds: float = Field(
        default=30.0, gt=0, description="a key without a recorded answer is re-run after this"
    )
    realtime_max_clients: int = Field(
        default=1000, ge=1, description="websocket clients per process; more get close 1013"
    )
    realtime_poll_seconds: float = Field(
        default=1.0, gt=0, description="the feed re-reads the outbox at least this often"
    )
    gc_freeze: bool = Field(
        default=True,
        description="after startup, exempt the startup heap from garbage collection (gc.freeze)",
    )
    jobs_embedded: bool = Field(
        default=True, description="run the job worker inside the service (false: `make worker`)"
    )
    jobs_poll_seconds: float = Field(default=1.0, gt=0, description="idle worker poll interval")
    jobs_batch_size: int = Field(default=20, ge=1, description="jobs claimed per round")
    jobs_max_attempts: int = Field(default=5, ge=1, description="then the job is dead-lettered")
    jobs_backoff_seconds: float = Field(
        default=1.0, gt=0, description="first retry delay, doubled per attempt"
    )
    jobs_backoff_max_seconds: float = Field(default=300.0, gt=0)
    jobs_lease_seconds: float = Field(
        default=60.0, gt=0, description="a claimed job whose worker vanished is re-run after this"
    )
    jobs_retention_seconds: int = Field(
        default=2 * 24 * 3600, ge=24 * 3600, description="done events kept (realtime replay)"
    )
    jobs_maintenance_seconds: float = Field(
        default=300.0, gt=0, description="interval of the periodic jobs (purges)"
    )

    @model_validator(mode="before")
    @classmethod
    def _secret_when_missing(cls, values: Any) -> Any:
        if not isinstance(values, dict) or values.get("jwt_secret"):
            return values
        environment = values.get("environment", "development")
        if environment == "production":
            raise ValueError("JWT_SECRET must be set in production")
        if environment == "test":
            return {**values, "jwt_secret": secrets.token_urlsafe(48)}
        url = str(values.get("database_url") or cls.model_fields["database_url"].default)
        return {**values, "jwt_secret": development_secret(url, values.get("jwt_secret_file"))}

    @field_validator("write_rate_limit", "search_rate_limit", "export_rate_limit")
    @classmethod
    def _limit_syntax(cls, value: str) -> str:
        """A typo fails at start, not as a 500 on the first limited request."""
        if value.strip() not in ("", "off"):
            parse(value)
        return value

    @field_validator("database_url", "realtime_listen_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        return None if value is None else with_async_driver(value)

    @field_validator("database_replica_urls", "cors_origins", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @field_validator("database_replica_urls")
    @classmethod
    def _async_drivers(cls, value: list[str]) -> list[str]:
        return [with_async_driver(url) for url in value]

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> "Settings":
        if self.environment == "production" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError(
                "JWT_SECRET must be set in production (the development secret is public)"
            )
        return self

    @model_validator(mode="after")
    def _refuse_cheap_hashes_in_production(self) -> "Settings":
        if self.environment == "production" and (
            self.password_hash_memory_kib < 65536 or self.password_hash_time_cost < 3
        ):
            raise ValueError(
                "PASSWORD_HASH_MEMORY_KIB / PASSWORD_HASH_TIME_COST below argon2's defaults"
                " (65536, 3) are for tests, never production"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


SETTINGS: StateSlot[Settings] = StateSlot("settings")
"""The application's settings (set by `create_app`)."""


@lru_cache
def get_settings() -> Settings:
    return Settings()
