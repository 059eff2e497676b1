"""The realtime section of the settings: the LISTEN connection and the websocket clients."""

from pydantic import Field, field_validator

from service.database.settings import DatabaseSettings
from service.kit.settings import with_async_driver


class RealtimeSettings(DatabaseSettings):
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
    realtime_max_clients: int = Field(
        default=1000, ge=1, description="websocket clients per process; more get close 1013"
    )
    realtime_poll_seconds: float = Field(
        default=1.0, gt=0, description="the feed re-reads the outbox at least this often"
    )

    @field_validator("realtime_listen_url")
    @classmethod
    def _listen_async_driver(cls, value: str | None) -> str | None:
        return None if value is None else with_async_driver(value)
