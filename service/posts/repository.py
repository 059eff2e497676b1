"""The statements of posts run through the session: entities for writes, likes, bulk changes,
search, top and the export's chunks (the compiled reads: queries.py)."""

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, delete, false, func, insert, literal_column, tuple_, update
from sqlalchemy import String as Text
from sqlalchemy import bindparam as bind
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select as ColumnSelect
from sqlmodel.sql.expression import SelectOfScalar

from service.database import streaming
from service.database.session_rules import INCLUDE_DELETED
from service.kit.db import dialects
from service.kit.model_base import utcnow
from service.kit.pagination import SortKey, paginate
from service.posts import queries
from service.posts.models import Post, PostLike, PostStatus
from service.posts.queries import FTS, SEARCH_VECTOR, PublicRow
from service.posts.schemas import PostFilter, PostSort
from service.tags.models import PostTag

POSTS: Table = Post.__table__  # type: ignore[attr-defined]
LIKES: Table = PostLike.__table__  # type: ignore[attr-defined]

SEARCH_CANDIDATES = 1000
"""PostgreSQL ranks at most this many matches: the newest ones (docs/domain.md, search)."""


def with_relations() -> SelectOfScalar[Post]:
    # Author: one JOIN in the same statement. Tags: one SELECT ... IN for the whole page.
    return select(Post).options(
        joinedload(Post.author, innerjoin=True),  # type: ignore[arg-type]
        selectinload(Post.tags),  # type: ignore[arg-type]
    )


async def get(
    session: AsyncSession, post_id: int, *, include_deleted: bool = False, bare: bool = False
) -> Post | None:
    """The post with author and tags, or `bare` (one statement, no relations) for checks."""
    statement = (select(Post) if bare else with_relations()).where(Post.id == post_id)
    if include_deleted:
        statement = statement.execution_options(**{INCLUDE_DELETED: True})
    return (await session.exec(statement)).first()


async def insert_new(session: AsyncSession, values: dict[str, Any]) -> PublicRow | None:
    """One INSERT ... ON CONFLICT (slug) DO NOTHING RETURNING the post as stored (JSONB key order
    included); None when the slug is taken (no probe, no SAVEPOINT)."""
    statement = (
        dialects.insert(session, POSTS)
        .on_conflict_do_nothing(index_elements=[POSTS.c.slug])
        .returning(*queries.WRITTEN_COLUMNS)
    )
    row = (await session.exec(statement, params=values)).mappings().first()
    return None if row is None else dict(row)


async def replace_tags(session: AsyncSession, post_id: int, tag_ids: Sequence[int]) -> None:
    await session.exec(delete(PostTag).where(col(PostTag.post_id) == post_id))
    if tag_ids:
        rows = [{"post_id": post_id, "tag_id": tag_id} for tag_id in tag_ids]
        await session.exec(dialects.insert(session, PostTag).values(rows))


async def taken_slugs(session: AsyncSession, candidates: Sequence[str]) -> set[str]:
    """Which of `candidates` a post already has, soft-deleted ones included."""
    if not candidates:
        return set()
    statement = (
        select(col(Post.slug))
        .where(col(Post.slug).in_(set(candidates)))
        .execution_options(**{INCLUDE_DELETED: True})
    )
    return {slug for slug in (await session.exec(statement)).all() if slug is not None}


async def insert_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """One multi-row INSERT ... VALUES (...), (...) RETURNING; ids in the order of `rows`.

    RETURNING order is not guaranteed by SQL, so rows are matched back by their unique slug.
    """
    statement = insert(POSTS).values(list(rows)).returning(POSTS.c.id, POSTS.c.slug)
    ids = {slug: post_id for post_id, slug in (await session.exec(statement)).all()}
    return [ids[row["slug"]] for row in rows]


async def current_versions(
    session: AsyncSession, author_id: int, post_ids: Sequence[int]
) -> dict[int, tuple[int, PostStatus]]:
    """(version, status) of the author's live posts among `post_ids`, in one SELECT."""
    statement = select(col(Post.id), col(Post.version), col(Post.status)).where(
        col(Post.id).in_(post_ids), col(Post.author_id) == author_id
    )
    rows = (await session.exec(statement)).all()
    return {post_id: (version, status) for post_id, version, status in rows if post_id is not None}


async def update_versioned(
    session: AsyncSession, author_id: int, keys: Sequence[tuple[int, int]], values: dict[str, Any]
) -> set[int]:
    """One UPDATE of the author's live posts whose `(id, version)` is among `keys` (bumping the
    version): the ids it changed. A row that moved on since it was read is left alone."""
    statement = (
        update(POSTS)
        .where(tuple_(POSTS.c.id, POSTS.c.version).in_(keys))
        .where(POSTS.c.author_id == author_id, POSTS.c.deleted_at.is_(None))
        .values(**values, version=POSTS.c.version + 1, updated_at=utcnow())
        .returning(POSTS.c.id)
    )
    return set((await session.exec(statement)).scalars().all())


async def add_like(session: AsyncSession, *, post_id: int, user_id: int) -> int | None:
    """Insert the like; bump the counter only when a row was really inserted.

    Core UPDATE on the table (not the ORM object): no version bump, no lost update, and
    `like_count + 1` is evaluated under the row lock, so the count is exact under concurrency.
    Returns the new count, or None when the like already existed.
    """
    inserted = await session.exec(
        dialects.insert(session, PostLike)
        .values(post_id=post_id, user_id=user_id)
        .on_conflict_do_nothing(index_elements=["post_id", "user_id"])
        .returning(LIKES.c.post_id)
    )
    if inserted.first() is None:
        return None
    return await _bump(session, post_id, +1)


async def remove_like(session: AsyncSession, *, post_id: int, user_id: int) -> int | None:
    """Delete the like and drop the counter; None when there was no like."""
    deleted = await session.exec(
        delete(LIKES)
        .where(LIKES.c.post_id == post_id, LIKES.c.user_id == user_id)
        .returning(LIKES.c.post_id)
    )
    if deleted.first() is None:
        return None
    return await _bump(session, post_id, -1)


async def _bump(session: AsyncSession, post_id: int, delta: int) -> int:
    result = await session.exec(
        update(POSTS)
        .where(POSTS.c.id == post_id)
        .values(like_count=POSTS.c.like_count + delta)
        .returning(POSTS.c.like_count)
    )
    count: int = result.scalar_one()
    return count


async def like_count(session: AsyncSession, post_id: int) -> int:
    result = await session.exec(select(POSTS.c.like_count).where(POSTS.c.id == post_id))
    count: int = result.one()
    return count


async def _public(
    session: AsyncSession, statement: ColumnSelect[*tuple[Any, ...]]
) -> Sequence[PublicRow]:
    """Rows of a statement built on `queries.public_rows()`, read by label (the ORM path)."""
    result = await session.exec(statement)
    return cast(Sequence[PublicRow], result.mappings().all())  # type: ignore[attr-defined]


async def get_many(session: AsyncSession, post_ids: Sequence[int]) -> Sequence[PublicRow]:
    """Posts by id, in id order (one statement whatever the count)."""
    if not post_ids:
        return []
    statement = (
        queries.public_rows(dialects.dialect_name(session))
        .where(col(Post.id).in_(list(post_ids)))
        .order_by(col(Post.id))
    )
    return await _public(session, statement)


async def top_per_author(
    session: AsyncSession,
    *,
    per_author: int,
    sort: SortKey,
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[PublicRow]:
    """Each author's `per_author` most liked published posts (row_number over authors)."""
    rank = (
        func.row_number()
        .over(
            partition_by=col(Post.author_id),
            order_by=(col(Post.like_count).desc(), col(Post.id).desc()),
        )
        .label("rank")
    )
    ranked = (
        select(col(Post.id).label("id"), rank)
        .where(Post.status == PostStatus.published, col(Post.deleted_at).is_(None))
        .subquery("ranked")
    )
    rows = queries.public_rows(dialects.dialect_name(session))
    statement = rows.join(ranked, ranked.c.id == col(Post.id)).where(ranked.c.rank <= per_author)
    return await _public(session, paginate(statement, sort, after, limit))


async def best_matches(session: AsyncSession, *, q: str, limit: int) -> Sequence[PublicRow]:
    """The `limit` best-ranked published posts (ties broken by newest id).

    On PostgreSQL only the newest SEARCH_CANDIDATES matches are ranked (docs/domain.md says
    why); a better-ranked older post can be missed, `GET /posts?q=` still walks every match.
    """
    published = col(Post.status) == PostStatus.published
    if dialects.dialect_name(session) == "postgresql":
        # The text is an escaped literal (literal_execute), not a parameter: with a parameter,
        # the prepared statement switches to a generic plan after five runs, which heap-scans
        # every match of a common word; with the literal the planner sees the word's frequency
        # (docs/domain.md). The soft-delete filter applies to the subquery (an ORM select).
        text = bind("q", q, type_=Text, literal_execute=True)
        query = func.websearch_to_tsquery(literal_column("'english'"), text)
        candidates = (
            select(col(Post.id))
            .where(published, SEARCH_VECTOR.op("@@")(query))
            .order_by(col(Post.id).desc())
            .limit(literal_column(str(SEARCH_CANDIDATES)))  # a constant: part of the plan
            .subquery("candidates")
        )
        rank = func.ts_rank(SEARCH_VECTOR, query)
        statement = (
            queries.public_rows("postgresql")
            .join(candidates, candidates.c.id == col(Post.id))
            .order_by(rank.desc(), col(Post.id).desc())
        )
    else:
        fts_query = queries.fts5_query(q)
        if fts_query is None:
            return []
        # bm25() is lower for better matches.
        statement = (
            queries.public_rows("sqlite")
            .join(FTS, literal_column("posts_fts.rowid") == col(Post.id))
            .where(published, literal_column("posts_fts").op("MATCH")(fts_query))
            .order_by(func.bm25(literal_column("posts_fts")), col(Post.id).desc())
        )
    return await _public(session, statement.limit(limit))


OLDEST_FIRST = queries.SORTS[PostSort.oldest]


async def export_chunks(
    session: AsyncSession, filters: PostFilter, chunk: int
) -> AsyncIterator[Sequence[Row[Any]]]:
    """Run the export's query now (oldest first); the rows come `chunk` at a time from the
    returned iterator. PostgreSQL: one statement on a server-side cursor; SQLite: keyset
    chunks. It is the listing's statement: each row carries its tags, nothing else runs."""
    dialect = dialects.dialect_name(session)
    shape = queries.Shape.of(dialect, filters, PostSort.oldest, cursor=False)
    statement = queries.filtered(shape)
    params = queries.parameters(filters, None, dialect)
    if params is None:  # nothing can match (an empty full-text query)
        statement, params = statement.where(false()), {}
    if dialect == "postgresql":
        ordered = statement.order_by(*OLDEST_FIRST.order_by())
        return await streaming.cursor_chunks(session, ordered, params, chunk, name="export")
    first = await _chunk(session, statement, params, None, chunk)
    return _keyset_chunks(session, statement, params, first, chunk)


async def _chunk(
    session: AsyncSession,
    statement: Any,
    params: dict[str, Any],
    after: Sequence[Any] | None,
    chunk: int,
) -> list[Any]:
    # paginate() asks for chunk + 1 rows; the look-ahead row only tells whether more follow.
    page = paginate(statement, OLDEST_FIRST, after, chunk)
    return list((await session.exec(page, params=params)).all())


async def _keyset_chunks(
    session: AsyncSession, statement: Any, params: dict[str, Any], rows: list[Any], chunk: int
) -> AsyncIterator[Sequence[Row[Any]]]:
    while True:
        yield rows[:chunk]
        if len(rows) <= chunk:
            return
        last = rows[chunk - 1]
        rows = await _chunk(session, statement, params, (last.created_at, last.id), chunk)
