"""The `idempotency_keys` table."""

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.kit.model_base import BigIntId, UTCDateTime, utcnow


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigIntId)
    user_id: int = Field(
        sa_column=Column(BigIntId, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    # NULL until the first response has been recorded ("in progress").
    status_code: int | None = Field(default=None)
    response_headers: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )
