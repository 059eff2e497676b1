"""The webhooks section of the settings: the key that seals endpoint secrets, where deliveries
may go, and the pace of the delivery loop (README, "Subscribe to events")."""

import secrets
from typing import Annotated, Any, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from service.database.settings import DatabaseSettings
from service.kit.settings import comma_separated, section_slot
from service.users.settings import development_secret

DEV_WEBHOOK_KEY = "dev-insecure-webhook-key-change-me-0123456789"
"""A public key: refused in production, like the development JWT secret."""
WEBHOOK_KEY_FILE = ".inkwell-webhook-key"


class WebhooksSettings(DatabaseSettings):
    webhook_secret_key: str = Field(
        min_length=32,
        description="seals endpoint signing secrets in the database (AES-256-GCM, key derived"
        " with HKDF); required in production, development keeps a generated one in a file",
    )
    webhook_secret_key_file: str | None = Field(
        default=None,
        description="where development keeps its generated key (default: beside the SQLite"
        " database, else ./.inkwell-webhook-key)",
    )
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated host names or IP addresses deliveries may reach although"
        " they are private, loopback or link-local (default: none)",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="a delivery attempt's connect-to-last-byte bound"
    )
    webhook_retry_hours: float = Field(
        default=24.0, gt=0, description="a delivery is retried this long, then marked failed"
    )
    webhook_disable_after_days: float = Field(
        default=5.0, gt=0, description="an endpoint failing this long in a row is disabled"
    )
    webhook_backoff_seconds: float = Field(
        default=5.0, gt=0, description="first retry delay, doubled per attempt, with jitter"
    )
    webhook_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_poll_seconds: float = Field(
        default=1.0, gt=0, description="idle delivery loop poll interval"
    )
    webhook_batch_size: int = Field(
        default=50, ge=1, description="endpoints served per round (one delivery each)"
    )
    webhook_lease_seconds: float = Field(
        default=60.0, gt=0, description="a claimed delivery whose sender vanished is re-sent after"
    )
    webhook_concurrency: int = Field(default=20, ge=1, description="requests in flight at once")

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        hosts = comma_separated(value)
        return [str(h).lower().strip("[]") for h in hosts] if isinstance(hosts, list) else hosts

    @model_validator(mode="before")
    @classmethod
    def _key_when_missing(cls, values: Any) -> Any:
        if not isinstance(values, dict) or values.get("webhook_secret_key"):
            return values
        environment = values.get("environment", "development")
        if environment == "production":
            raise ValueError("WEBHOOK_SECRET_KEY must be set in production")
        if environment == "test":
            return {**values, "webhook_secret_key": secrets.token_urlsafe(48)}
        url = str(values.get("database_url") or cls.model_fields["database_url"].default)
        path = values.get("webhook_secret_key_file")
        key = development_secret(url, path, filename=WEBHOOK_KEY_FILE)
        return {**values, "webhook_secret_key": key}

    @model_validator(mode="after")
    def _refuse_dev_key_in_production(self) -> Self:
        if self.environment == "production" and self.webhook_secret_key == DEV_WEBHOOK_KEY:
            raise ValueError("WEBHOOK_SECRET_KEY must be set in production (this one is public)")
        return self

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Self:
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("WEBHOOK_LEASE_SECONDS must exceed WEBHOOK_TIMEOUT_SECONDS")
        return self


WEBHOOKS_SETTINGS = section_slot(WebhooksSettings)
