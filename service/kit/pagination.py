"""Keyset (seek) pagination with opaque, HMAC-signed cursors.

A cursor holds the last row's sort key plus its unique id, so the order is total and pages
never skip or repeat a row; it is bound to its listing by a digest of the path and query
(docs/http.md)."""

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, literal_column, or_, tuple_

from service.kit.errors import BadRequest
from service.kit.http.answers import declares
from service.kit.state import StateSlot

T = TypeVar("T")
Row = TypeVar("Row")
Statement = TypeVar("Statement", bound=Select[Any])


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class SortKey:
    """An ordered list of columns; the last one must be unique (the tie-breaker)."""

    name: str
    columns: tuple[Any, ...]  # mapped attributes, e.g. `col(Post.created_at)`
    descending: bool

    @cached_property
    def python_types(self) -> tuple[type, ...]:
        """The columns' Python types, read once (a cursor's values are coerced to them)."""
        return tuple(c.type.python_type for c in self.columns)

    def order_by(self) -> list[ColumnElement[Any]]:
        return [c.desc() if self.descending else c.asc() for c in self.columns]

    def after_bound(self) -> ColumnElement[bool]:
        """`after()` with bound parameters `after_0`, `after_1`, ... (statements built once);
        `bound(values)` gives their values."""
        # Typed like their columns, so each dialect binds the values as it stores them.
        return self.after(
            [bindparam(f"after_{i}", type_=c.type) for i, c in enumerate(self.columns)]
        )

    @staticmethod
    def bound(values: Sequence[Any]) -> dict[str, Any]:
        return {f"after_{i}": value for i, value in enumerate(values)}

    def after(self, values: Sequence[Any]) -> ColumnElement[bool]:
        """Rows strictly after the row whose sort values are `values`."""
        cols = self.columns
        if len(cols) == 2:
            # A row-value comparison is one index range scan on PostgreSQL.
            left, right = tuple_(*cols), tuple_(*values)
            return left < right if self.descending else left > right
        clauses = []
        for i, col in enumerate(cols):
            beyond = col < values[i] if self.descending else col > values[i]
            clauses.append(and_(*(c == values[j] for j, c in enumerate(cols[:i])), beyond))
        return or_(*clauses)


class CursorCodec:
    """Signs and verifies cursors; a forged or malformed cursor is a 400, never a 500."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"inkwell-cursor:" + secret.encode()).digest()

    def _sign(self, payload: bytes) -> str:
        digest = hmac.new(self._key, payload, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def encode(self, sort: SortKey, values: Sequence[Any], listing: str) -> str:
        """`listing`: the `listing_digest` of the request whose next page this is."""
        encoded = [_encode(v) for v in values]
        payload = json.dumps([sort.name, encoded, listing], separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{body}.{self._sign(payload)}"

    def decode(self, cursor: str, sort: SortKey, listing: str) -> list[Any]:
        try:
            body, signature = cursor.split(".", 1)
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, binascii.Error) as error:
            raise BadRequest("The cursor is malformed.") from error
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise BadRequest("The cursor is not valid.")
        try:
            name, values, bound_to = json.loads(payload)
            if name != sort.name:
                raise BadRequest("The cursor belongs to another sort order.")
            if bound_to != listing:
                raise BadRequest(
                    "The cursor belongs to another listing: use it with the path, filters and"
                    " sort of the page that returned it (only `limit` may change)."
                )
            return [_coerce(v, t) for v, t in zip(values, sort.python_types, strict=True)]
        except (ValueError, TypeError, OverflowError, RecursionError) as error:
            raise BadRequest("The cursor is not valid.") from error


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


_BIGINT = range(-(2**63), 2**63)


def _coerce(value: Any, expected: type) -> Any:
    """A cursor value as its column's type, or a 400: a signed cursor is still only trusted as
    far as its schema (no booleans or floats for integers, nothing outside BIGINT, no naive or
    out-of-range datetimes, nothing but text for text)."""
    if expected is datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise BadRequest("The cursor is not valid.")
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise BadRequest("The cursor is not valid.")
        return parsed
    if expected is uuid.UUID:
        if not isinstance(value, str):
            raise BadRequest("The cursor is not valid.")
        return uuid.UUID(value)
    if expected is int:
        if type(value) is not int or value not in _BIGINT:
            raise BadRequest("The cursor is not valid.")
        return value
    if expected is str:
        if not isinstance(value, str) or "\x00" in value or len(value) > 1024:
            raise BadRequest("The cursor is not valid.")
        value.encode("utf-8")  # a lone surrogate is a UnicodeEncodeError (a ValueError)
        return value
    if type(value) is not expected:
        raise BadRequest("The cursor is not valid.")
    return value


def paginate(
    statement: Statement, sort: SortKey, after: Sequence[Any] | None, limit: int
) -> Statement:
    """Apply seek condition, order and a one-row look-ahead to `statement` (its LIMIT written
    into the SQL: `row_limit`)."""
    if after is not None:
        statement = statement.where(sort.after(after))
    return statement.order_by(*sort.order_by()).limit(row_limit(limit + 1))


def row_limit(rows: int) -> ColumnElement[int]:
    """A page's `LIMIT` written into the SQL, not bound (compiled and cached once per page size):
    PostgreSQL plans a prepared statement with a bound LIMIT again on every execution
    (docs/performance.md)."""
    return literal_column(str(int(rows)), Integer)


PAGING_PARAMETERS = frozenset({"cursor", "limit"})
"""The query parameters that choose a page, not a listing: a cursor is not bound to them."""


def listing_digest(path: str, query: Iterable[tuple[str, str]]) -> str:
    """What a cursor is bound to: `path` and the query parameters except `cursor` and `limit`,
    in any order (sorted), as sent; 64 bits of SHA-256 (16 hex digits) of their `repr` (an
    unambiguous encoding of strings, and the cheapest: this runs on the hot list path)."""
    items = sorted([(k, v) for k, v in query if k not in PAGING_PARAMETERS])
    return hashlib.sha256(repr((path, items)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Pager:
    """The page a request asked for: `limit` rows after `cursor`, of the listing at `path`
    with `query` (its parameters)."""

    codec: CursorCodec
    limit: int
    cursor: str | None
    path: str = ""
    query: tuple[tuple[str, str], ...] = ()

    @cached_property
    def listing(self) -> str:
        """`listing_digest` of this request, computed once (and only when a cursor is read or
        made)."""
        return listing_digest(self.path, self.query)

    def after(self, sort: SortKey) -> list[Any] | None:
        if self.cursor is None:
            return None
        return self.codec.decode(self.cursor, sort, self.listing)

    def page(self, rows: Sequence[Row], sort: SortKey) -> tuple[list[Row], str | None]:
        """Trim the look-ahead row and make the cursor for the next page, if any."""
        items = list(rows[: self.limit])
        if len(rows) <= self.limit:
            return items, None
        return items, self.codec.encode(sort, _sort_values(items[-1], sort), self.listing)


def _sort_values(row: Any, sort: SortKey) -> list[Any]:
    """The sort key values of an entity or row (by attribute), or of a driver record (by key)."""
    try:
        return [getattr(row, c.key) for c in sort.columns]
    except AttributeError:
        return [row[c.key] for c in sort.columns]


CURSOR_CODEC: StateSlot[CursorCodec] = StateSlot("cursor_codec")


CURSOR_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"
"""What `CursorCodec.encode` makes (two base64url parts); documented, checked by the codec (400)."""


BAD_CURSOR = BadRequest("The cursor is not valid.")
"""What a page request with a cursor the server did not issue (or another listing's) answers."""


class PageQuery(BaseModel):
    """The query parameters that choose a page: a query model (`Annotated[PageQuery, Query()]`,
    or a model that extends it with a listing's own parameters)."""

    limit: Annotated[int, Field(ge=1, le=100, description="rows per page")] = 20
    cursor: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=1024,
            description="`next_cursor` of the previous page, verbatim, with the same filters"
            " and sort (signed: a cursor the server did not issue, or another listing's, is a"
            " 400); `limit` may change",
            json_schema_extra={"pattern": CURSOR_PATTERN},
        ),
    ] = None

    @declares(BAD_CURSOR)
    def pager(self, request: Request) -> Pager:
        """This page of the listing `request` asks for (its path and query parameters)."""
        query = tuple(request.query_params.multi_items())  # parsed once per request by Starlette
        codec = CURSOR_CODEC.of(request)
        return Pager(codec, self.limit, self.cursor, request.scope["path"], query)


@declares(BAD_CURSOR)
async def get_pager(request: Request, page: Annotated[PageQuery, Query()]) -> Pager:
    # async def: a plain def dependency would cost a thread-pool hop per request.
    return page.pager(request)


PagerDep = Annotated[Pager, Depends(get_pager)]
