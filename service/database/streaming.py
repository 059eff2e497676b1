"""Streamed reads: a session that lives as long as a response body, and a PostgreSQL cursor
that hands out the rows of one SELECT a chunk at a time."""

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Row, Select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlmodel.ext.asyncio.session import AsyncSession

from service.database.guard import slot_of
from service.database.session import SessionMakerDep


async def get_streaming_session(
    request: Request, sessionmaker: SessionMakerDep
) -> AsyncIterator[AsyncSession]:
    """A session on the primary for a response streamed from a cursor (an export).

    Opened before the handler, so a failing query is still a problem response; rolled back once the
    last byte is sent. It holds the request's `SessionGuard` slot all that time, so the handler's
    other dependencies use short sessions of their own (`SignedInUser`)."""
    async with slot_of(request), sessionmaker() as session:
        yield session


StreamingSessionDep = Annotated[AsyncSession, Depends(get_streaming_session, scope="request")]


class DeclareCursor(Executable, ClauseElement):
    """`DECLARE <name> NO SCROLL CURSOR FOR <select>` (PostgreSQL), parameters bound as usual."""

    inherit_cache = False

    def __init__(self, name: str, select: Select[Any]) -> None:
        self.name = name
        self.select = select


@compiles(DeclareCursor, "postgresql")
def _declare(element: DeclareCursor, compiler: SQLCompiler, **kw: Any) -> str:
    select = compiler.process(element.select, **kw)
    return f"DECLARE {element.name} NO SCROLL CURSOR FOR {select}"


async def cursor_chunks(
    session: AsyncSession,
    statement: Select[Any],
    params: Mapping[str, Any],
    size: int,
    *,
    name: str = "inkwell_stream",
) -> AsyncIterator[Sequence[Row[Any]]]:
    """The rows of `statement` on a SQL cursor in the session's transaction, `size` at a time.

    `DECLARE`, not `AsyncSession.stream`: a protocol portal is planned for the whole result, a
    declared cursor for its first rows (docs/domain.md, docs/performance.md). The first FETCH runs
    before this returns: a failing query fails the request, not the body halfway through."""
    connection = await session.connection()
    await connection.execute(DeclareCursor(name, statement), dict(params))
    fetch = text(f"FETCH {int(size)} FROM {name}").columns(*statement.selected_columns)
    first = (await connection.execute(fetch)).all()

    async def chunks() -> AsyncIterator[Sequence[Row[Any]]]:
        rows: Sequence[Row[Any]] = first
        while rows:
            yield rows
            if len(rows) < size:
                return
            rows = (await connection.execute(fetch)).all()

    return chunks()
