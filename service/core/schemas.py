"""Base classes for request and response bodies."""

from typing import Annotated

from fastapi import Path
from pydantic import ConfigDict
from sqlmodel import SQLModel


class RequestModel(SQLModel):
    """Request bodies reject unknown fields: no mass assignment of server-owned columns."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


class ResponseModel(SQLModel):
    model_config = ConfigDict(from_attributes=True)  # type: ignore[assignment]


MAX_BIGINT = 2**63 - 1

IdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
"""An integer id in the URL; out-of-range ids are a 422, not a database error."""
