"""The `outbox_events` table: one row per event, written in the transaction that caused it."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, String, Text
from sqlmodel import Field, SQLModel

from service.kit.model_base import BigIntId, UTCDateTime, utcnow


class EventState(StrEnum):
    pending = "pending"
    """Waiting for (or being run by) a worker; `locked_until` in the future means running."""
    done = "done"
    dead = "dead"
    """Failed `JOBS_MAX_ATTEMPTS` times: kept for an operator, never retried automatically."""


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_state_run_after", "state", "run_after"),
        # Event ids are the feed's order: SQLite must never reuse an id after a purge.
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    topic: str = Field(max_length=100)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = Field(default=EventState.pending, sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0)
    run_after: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
