"""Base classes for request and response bodies."""

from typing import Annotated, Any

from fastapi import Path
from pydantic import ConfigDict, field_validator
from sqlmodel import SQLModel


def storable_text(value: Any) -> Any:
    """Refuse text no database can store: NUL characters (PostgreSQL text and JSONB reject
    them) and lone surrogates (not encodable as UTF-8), anywhere in a nested document."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            storable_text(key)
            storable_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            storable_text(item)
    return value


class RequestModel(SQLModel):
    """Request bodies reject unknown fields (no mass assignment of server-owned columns) and
    text that could only fail later in the database (a 422 now instead of a 500 there)."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    _storable_text = field_validator("*")(storable_text)


class ResponseModel(SQLModel):
    model_config = ConfigDict(from_attributes=True)  # type: ignore[assignment]


MAX_BIGINT = 2**63 - 1

IdPath = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
"""An integer id in the URL; out-of-range ids are a 422, not a database error."""
