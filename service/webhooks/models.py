"""Webhook endpoints, their deliveries (one per event and endpoint) and every attempt made."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from service.kit.model_base import BigIntId, UTCDateTime, cascade_fk, utcnow


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_user_id_id", "user_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    user_id: int = Field(sa_column=cascade_fk("users.id"))
    url: str = Field(sa_column=Column(String(2048), nullable=False))
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    sealed_secret: str = Field(sa_column=Column(String(255), nullable=False))
    """The signing secret, AES-GCM sealed with WEBHOOK_SECRET_KEY (service/webhooks/secrets.py)."""
    enabled: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    disabled_reason: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    """Start of the current run of failed attempts (None after a success)."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # A re-run job (at-least-once) never queues one event twice for one endpoint.
        Index("uq_webhook_deliveries_endpoint_id", "endpoint_id", "event_id", unique=True),
        # The head of each endpoint's queue; the log, newest first.
        Index("ix_webhook_deliveries_endpoint_id_status_id", "endpoint_id", "status", "id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    endpoint_id: int = Field(sa_column=cascade_fk("webhook_endpoints.id"))
    event_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    event_type: str = Field(sa_column=Column(String(32), nullable=False))
    message_id: str = Field(sa_column=Column(String(64), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    """The exact bytes sent (and signed) on every attempt."""
    status: str = Field(default="pending", sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    """Retried until then, then marked failed."""
    response_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    duration_ms: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class WebhookAttempt(SQLModel, table=True):
    """One attempt, written before the request goes out (`sending`) and completed after it:
    an attempt cut short by a crash still shows."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("uq_webhook_attempts_delivery_id", "delivery_id", "number", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    delivery_id: int = Field(sa_column=cascade_fk("webhook_deliveries.id"))
    number: int = Field(sa_column=Column(Integer, nullable=False))
    outcome: str = Field(default="sending", sa_column=Column(String(16), nullable=False))
    response_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    duration_ms: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
