"""Runtime configuration, read from the environment (and an optional `.env` file)."""

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.kit.state import StateSlot

DEV_JWT_SECRET = "dev-insecure-jwt-secret-change-me-0123456789"


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

    jwt_secret: str = Field(default=DEV_JWT_SECRET, min_length=32)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    jwt_issuer: str = "inkwell"
    jwt_audience: str = "inkwell-api"
    jwt_expire_seconds: int = Field(default=3600, ge=60)

    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: console in development, JSON lines otherwise"
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

    max_body_bytes: int = Field(default=1024 * 1024, ge=1, description="larger bodies get 413")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated allowed origins; empty = CORS closed"
    )
    login_rate_limit: str = Field(
        default="10/minute",
        description="login attempts allowed per client address and per username (limits syntax)",
    )
    rate_limit_storage_uri: str = Field(
        default="memory://",
        description="limits storage URI; redis://host:6379/0 shares counters between instances",
    )
    idempotency_ttl_seconds: int = Field(
        default=24 * 3600, ge=60, description="how long an Idempotency-Key is remembered"
    )
    retry_after_seconds: int = Field(default=2, ge=1, description="Retry-After on 503")

    @field_validator("database_replica_urls", "cors_origins", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [url.strip() for url in value.split(",") if url.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_dev_secret_in_production(self) -> "Settings":
        if self.environment == "production" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError(
                "JWT_SECRET must be set in production (the development secret is public)"
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
