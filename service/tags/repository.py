from collections.abc import Iterable, Sequence

from sqlalchemy import column, func, table
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db import dialects
from service.tags.models import PostTag, Tag

# posts sits above tags in the import order (posts -> tags): a table clause, not its model.
_posts = table("posts", column("id"), column("status"), column("deleted_at"))


async def upsert(session: AsyncSession, names: Iterable[str]) -> dict[str, Tag]:
    """Create missing tags and return all of them by name: one INSERT, one SELECT.

    `ON CONFLICT DO NOTHING` makes concurrent first uses of a tag safe: the second insert waits
    for the first transaction, then does nothing, and the SELECT (a new snapshot under READ
    COMMITTED) sees the committed row. Sorted names give every transaction the same lock order.
    """
    wanted = sorted(set(names))
    if not wanted:
        return {}
    statement = (
        dialects.insert(session, Tag)
        .values([{"name": name} for name in wanted])
        .on_conflict_do_nothing(index_elements=["name"])
    )
    await session.exec(statement)
    rows = await session.exec(select(Tag).where(col(Tag.name).in_(wanted)))
    return {tag.name: tag for tag in rows.all()}


async def link(session: AsyncSession, pairs: Sequence[tuple[int, int]]) -> None:
    """Insert (post_id, tag_id) link rows in one multi-row statement."""
    if pairs:
        rows = [{"post_id": post_id, "tag_id": tag_id} for post_id, tag_id in pairs]
        await session.exec(dialects.insert(session, PostTag).values(rows))


async def counts(session: AsyncSession, *, limit: int) -> Sequence[tuple[str, int]]:
    """Tags by number of visible (published, not deleted) posts, most used first."""
    post_count = func.count(col(PostTag.post_id)).label("post_count")
    statement = (
        select(col(Tag.name), post_count)
        .join(PostTag, col(PostTag.tag_id) == col(Tag.id))
        .join(_posts, _posts.c.id == col(PostTag.post_id))
        .where(_posts.c.status == "published", _posts.c.deleted_at.is_(None))
        .group_by(col(Tag.id), col(Tag.name))
        .order_by(post_count.desc(), col(Tag.name))
        .limit(limit)
    )
    return [(name, count) for name, count in (await session.exec(statement)).all()]
