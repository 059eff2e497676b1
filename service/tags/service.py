"""Tag rules: names are normalised by the schemas; tags are created on first use."""

from collections.abc import Iterable, Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from service.tags import repository
from service.tags.models import Tag


async def get_or_create(session: AsyncSession, names: Iterable[str]) -> dict[str, Tag]:
    return await repository.upsert(session, names)


async def link(session: AsyncSession, pairs: Sequence[tuple[int, int]]) -> None:
    await repository.link(session, pairs)


async def attach(session: AsyncSession, post_id: int, names: Sequence[str]) -> None:
    """Tag a new post: its tags created on first use, then linked (three statements)."""
    by_name = await repository.upsert(session, names)
    await repository.link(session, [(post_id, tag.id) for tag in by_name.values() if tag.id])


async def popular(session: AsyncSession, *, limit: int) -> Sequence[tuple[str, int]]:
    return await repository.counts(session, limit=limit)
