"""The database section of the settings: the primary's URL, its pool and its timeouts."""

from typing import Literal

from pydantic import Field, field_validator

from service.kit.settings import with_async_driver
from service.observability.settings import ObservabilitySettings


class DatabaseSettings(ObservabilitySettings):
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
    db_pgbouncer: bool = Field(
        default=False,
        description="PgBouncer transaction mode: no statement cache, unique prepared statement"
        " names, no startup server_settings, reads inside transactions",
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return with_async_driver(value)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
