"""Base classes for request and response bodies, and the edge types of every input.

Everything a client sends is checked here, before it can reach the database: text no column
can store (NUL, lone surrogates), numbers JSON does not have (NaN, ±Infinity), documents nested
deeper than any schema uses (checked without recursion), ids outside BIGINT, datetimes outside
the range of a timestamp. Each is a 422 naming the field, never a 500 from the database.
"""

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from annotated_types import Ge, Le
from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, ConfigDict, WithJsonSchema, field_validator
from pydantic import Field as PydanticField
from sqlmodel import SQLModel

MAX_JSON_DEPTH = 32
"""Deepest nesting any request document may have (every schema is far shallower)."""


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a decoded JSON document, without recursion; stops past `limit`."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, dict | list | tuple):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            items = current.values() if isinstance(current, dict) else current
            pending.extend((item, depth) for item in items)
    return deepest


def _check_text(value: str) -> None:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None


def storable_text(value: Any) -> Any:
    """Refuse what no database can store, anywhere in a nested document, without recursion:
    NUL characters (PostgreSQL text and JSONB reject them), lone surrogates (not UTF-8), NaN
    and ±Infinity (not JSON: JSONB refuses them, SQLite stores text its JSON functions then
    choke on), and nesting deeper than MAX_JSON_DEPTH."""
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"must not be nested deeper than {MAX_JSON_DEPTH} levels")
    pending: list[Any] = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, str):
            _check_text(current)
        elif isinstance(current, float):
            if not math.isfinite(current):
                raise ValueError("must be a finite number (NaN and Infinity are not JSON)")
        elif isinstance(current, dict):
            pending.extend(current.keys())
            pending.extend(current.values())
        elif isinstance(current, list | tuple):
            pending.extend(current)
    return value


class RequestModel(SQLModel):
    """Request bodies reject unknown fields (no mass assignment of server-owned columns) and
    text that could only fail later in the database (a 422 now instead of a 500 there)."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    _storable_text = field_validator("*")(storable_text)


T = TypeVar("T")


def _refuse_null(value: T | None) -> T:
    if value is None:
        raise ValueError("may be omitted, but not null: this field cannot be cleared")
    return value


def _not_nullable_schema(schema: dict[str, Any]) -> None:
    """The JSON schema of the value alone: no `null` branch, no `default: null`."""
    schema.pop("default", None)
    branches = [branch for branch in schema.pop("anyOf", []) if branch.get("type") != "null"]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches


Omittable = Annotated[
    T | None,
    AfterValidator(_refuse_null),
    PydanticField(json_schema_extra=_not_nullable_schema),
]
"""A field of a partial update (PATCH) that may be left out but never sent as `null`:
`title: Omittable[str] = Field(default=None, ...)`. Left out, it is None and unset
(`model_dump(exclude_unset=True)` skips it); an explicit `null` is a 422 naming the field,
never a silent no-op. The OpenAPI schema shows the type without `null`. A field that may be
cleared keeps a plain `X | None` type (null means "clear")."""


class ResponseModel(SQLModel):
    model_config = ConfigDict(from_attributes=True)  # type: ignore[assignment]


MAX_BIGINT = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def _strict_id(value: Any) -> Any:
    """Only plain decimal digits: `1.0`, ` 1`, `+1`, `1_000` and full-width digits are not ids."""
    if isinstance(value, str) and _DIGITS.fullmatch(value) is None:
        raise ValueError("must be a whole number written with the digits 0-9 only")
    return value


StrictId = BeforeValidator(_strict_id)
"""Runs before an id is parsed as an integer (by `Id`, and by any `Annotated[Id, ...]`)."""

Id = Annotated[int, Ge(1), Le(MAX_BIGINT), StrictId]
"""A BIGINT id, digits only (the bounds sit on the integer, so OpenAPI shows them)."""

IdPath = Annotated[Id, Path()]
"""An integer id in the URL; anything but digits, or out of BIGINT range, is a 422."""

IdQuery = Annotated[Id | None, Query()]
"""An optional integer id in the query string, as strict as `IdPath`."""


def as_utc(value: datetime) -> datetime:
    """A datetime without offset is read as UTC; one with an offset is converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_8601(value: Any) -> Any:
    """Only ISO 8601 text: pydantic would also read `0.5` or `1700000000` as Unix times."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _ISO_DATE.match(value) is None:
        raise ValueError("must be an ISO 8601 date or date-time, e.g. 2026-05-01T12:00:00Z")
    return value


UtcDateTime = Annotated[
    datetime,
    BeforeValidator(_iso_8601),
    AfterValidator(as_utc),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
            ],
            "description": "ISO 8601; a date, or a date-time without offset, is read as UTC",
        }
    ),
]
"""A query datetime: a date or a datetime without offset is read as UTC; out of range is 422."""


UtcInstant = Annotated[
    datetime,
    BeforeValidator(_iso_8601),
    AfterValidator(as_utc),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "ISO 8601; a date-time without offset is read as UTC",
        }
    ),
]
"""`UtcDateTime` with one schema (a body field that a PATCH may omit but never null)."""


def storable_form_text(value: str) -> str:
    """The form-field counterpart of `storable_text` (forms are not seen by the query guard)."""
    _check_text(value)
    return value


FormText = AfterValidator(storable_form_text)
"""Add to a form field's `Annotated[...]`: NUL characters and lone surrogates are a 422."""
