"""`StreamingSessionDep`: a session that lives as long as a streamed response body."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db.guard import slot_of
from service.kit.db.session import SessionMakerDep


async def get_streaming_session(
    request: Request, sessionmaker: SessionMakerDep
) -> AsyncIterator[AsyncSession]:
    """A session on the primary for a response streamed from a cursor (an export).

    Opened before the handler runs, so the handler can start its query before the first byte
    (a failure is still a problem response); closed, rolled back and never committed, once the
    last byte is sent or the client went away (`scope="request"`). It holds the request's
    database slot (`SessionGuard`) all that time: the slot must be free when it is resolved,
    so the handler's other dependencies use short sessions of their own (`SignedInUser`).
    """
    async with slot_of(request), sessionmaker() as session:
        yield session


StreamingSessionDep = Annotated[AsyncSession, Depends(get_streaming_session, scope="request")]
