import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    Table,
    bindparam,
    column,
    delete,
    exists,
    func,
    insert,
    literal_column,
    table,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import joinedload, selectinload
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select as ColumnSelect
from sqlmodel.sql.expression import SelectOfScalar

from service.kit.db import dialects
from service.kit.db.soft_delete import INCLUDE_DELETED
from service.kit.pagination import SortKey, paginate
from service.posts.models import Post, PostLike, PostStatus
from service.posts.schemas import PostSort
from service.tags.models import PostTag, Tag
from service.users.models import User

SORTS = {
    PostSort.newest: SortKey(PostSort.newest, (col(Post.created_at), col(Post.id)), True),
    PostSort.oldest: SortKey(PostSort.oldest, (col(Post.created_at), col(Post.id)), False),
    PostSort.most_liked: SortKey(PostSort.most_liked, (col(Post.like_count), col(Post.id)), True),
}

# SQLite's external-content FTS5 table (created by the migration, synced by triggers).
_fts = table("posts_fts")
_SEARCH_VECTOR: ColumnElement[Any] = literal_column("posts.search_vector")
POSTS: Table = Post.__table__  # type: ignore[attr-defined]
LIKES: Table = PostLike.__table__  # type: ignore[attr-defined]
# comments sits above posts in the import order: a lightweight table clause, not its model.
_comments = table("comments", column("post_id"), column("author_id"), column("deleted_at"))


@dataclass(frozen=True)
class PostFilter:
    author_id: int | None = None
    status: PostStatus = PostStatus.published
    created_after: datetime | None = None
    created_before: datetime | None = None
    tag: str | None = None
    q: str | None = None
    meta: tuple[str, str] | None = None
    commented_by: int | None = None


# The read path selects the columns a PostPublic needs, not entities: no identity map, no
# object construction, no relationship loaders (docs/performance.md). It stays an ORM-enabled
# select (columns of mapped classes), so the global soft-delete filter still applies to it.
PUBLIC_COLUMNS: tuple[Any, ...] = (
    col(Post.id),
    col(Post.slug),
    col(Post.title),
    col(Post.body),
    col(Post.status),
    col(Post.meta),
    col(Post.like_count),
    col(Post.version),
    col(Post.created_at),
    col(Post.updated_at),
    col(Post.author_id),
    col(User.username),
    col(User.display_name),
    col(User.created_at).label("author_created_at"),
)


PublicRow = Row[*tuple[Any, ...]]
"""A row of PUBLIC_COLUMNS (attributes named like PostPublic's fields, author flattened)."""


_PUBLIC_ROWS: ColumnSelect[*tuple[Any, ...]] = ColumnSelect(*PUBLIC_COLUMNS).join(
    User, col(User.id) == col(Post.author_id)
)
# Statements are immutable and cached by SQLAlchemy once compiled: the fixed ones are built once
# here, with bound parameters, instead of per request (building a select costs ~100 µs).
_BY_ID = _PUBLIC_ROWS.where(col(Post.id) == bindparam("post_id"))
_TAGS = (
    select(col(PostTag.post_id), col(Tag.name))
    .join(Tag, col(Tag.id) == col(PostTag.tag_id))
    .order_by(col(PostTag.post_id), col(Tag.name))
)
_TAGS_OF_ONE = _TAGS.where(col(PostTag.post_id) == bindparam("post_id"))
_TAGS_OF_MANY = _TAGS.where(col(PostTag.post_id).in_(bindparam("post_ids", expanding=True)))


def public_rows() -> ColumnSelect[*tuple[Any, ...]]:
    """Posts JOIN their authors, as the columns of the public representation."""
    return _PUBLIC_ROWS


async def _fetch(
    session: AsyncSession,
    statement: ColumnSelect[*tuple[Any, ...]],
    params: dict[str, Any] | None = None,
) -> Sequence[PublicRow]:
    # sqlmodel types column results as plain tuples; they are Rows (attribute access by name).
    return cast(Sequence[PublicRow], (await session.exec(statement, params=params)).all())


async def tag_names(session: AsyncSession, post_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each post's tag names, sorted; one statement for the whole page."""
    names: dict[int, list[str]] = {post_id: [] for post_id in post_ids}
    if not names:
        return names
    if len(post_ids) == 1:  # `=`: no expanding IN to render for the single post
        result = await session.exec(_TAGS_OF_ONE, params={"post_id": post_ids[0]})
    else:
        result = await session.exec(_TAGS_OF_MANY, params={"post_ids": list(post_ids)})
    for post_id, name in result.all():
        names[post_id].append(name)
    return names


async def get_public(session: AsyncSession, post_id: int) -> PublicRow | None:
    """One post's public columns with its author (no tags), or None."""
    rows = await _fetch(session, _BY_ID, {"post_id": post_id})
    return rows[0] if rows else None


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


async def get_many(session: AsyncSession, post_ids: Sequence[int]) -> Sequence[Post]:
    """Posts with author and tags, in id order (two statements whatever the count)."""
    statement = with_relations().where(col(Post.id).in_(list(post_ids))).order_by(col(Post.id))
    return (await session.exec(statement)).all()


_TERM = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')


def fts5_query(q: str) -> str | None:
    """Translate web-search syntax (as `websearch_to_tsquery` reads it) into an FTS5 query.

    Words and "quoted phrases" are required (AND), `or` between terms is OR, `-term` excludes.
    Every term is re-quoted from its word characters only, so FTS5 syntax in user input is
    inert. FTS5 cannot start with NOT, so each OR-group lists its positive terms first; a
    group with no positive term is dropped. None when nothing searchable is left.
    """
    groups: list[tuple[list[str], list[str]]] = [([], [])]
    for match in _TERM.finditer(q[:200]):
        negative = bool(match.group(1) or match.group(3))
        text = match.group(2) if match.group(2) is not None else match.group(4)
        if match.group(4) is not None and not negative and text.lower() == "or":
            groups.append(([], []))
            continue
        words = re.findall(r"\w+", text)
        if words:
            groups[-1][negative].append('"' + " ".join(words[:16]) + '"')
    clauses = [
        " ".join(positive) + "".join(f" NOT {term}" for term in negative)
        for positive, negative in groups
        if positive
    ]
    return " OR ".join(f"({clause})" for clause in clauses) or None


def _matches(session: AsyncSession, q: str) -> ColumnElement[bool]:
    if dialects.dialect_name(session) == "postgresql":
        return _SEARCH_VECTOR.op("@@")(func.websearch_to_tsquery("english", q))
    query = fts5_query(q)
    if query is None:
        return literal_column("1") == literal_column("0")
    hits: Select[tuple[Any]] = (
        select(literal_column("rowid"))
        .select_from(_fts)
        .where(literal_column("posts_fts").op("MATCH")(query))
    )
    return col(Post.id).in_(hits)


def _meta_equals(session: AsyncSession, key: str, value: str) -> ColumnElement[bool]:
    if dialects.dialect_name(session) == "postgresql":
        # `metadata @> '{"key": "value"}'`: served by the GIN (jsonb_path_ops) index.
        return type_coerce(col(Post.meta), JSONB).contains({key: value})
    return func.json_extract(col(Post.meta), f'$."{key}"') == value


def _filtered(session: AsyncSession, filters: PostFilter) -> ColumnSelect[*tuple[Any, ...]]:
    statement = public_rows().where(col(Post.status) == filters.status)
    if filters.author_id is not None:
        statement = statement.where(Post.author_id == filters.author_id)
    if filters.created_after is not None:
        statement = statement.where(Post.created_at >= filters.created_after)
    if filters.created_before is not None:
        statement = statement.where(Post.created_at < filters.created_before)
    if filters.tag is not None:
        tagged = (
            select(PostTag.post_id)
            .join(Tag, col(Tag.id) == col(PostTag.tag_id))
            .where(Tag.name == filters.tag)
        )
        statement = statement.where(col(Post.id).in_(tagged))
    if filters.q is not None:
        statement = statement.where(_matches(session, filters.q))
    if filters.meta is not None:
        statement = statement.where(_meta_equals(session, *filters.meta))
    if filters.commented_by is not None:
        commented = exists().where(
            _comments.c.post_id == col(Post.id),
            _comments.c.author_id == filters.commented_by,
            _comments.c.deleted_at.is_(None),
        )
        statement = statement.where(commented)
    return statement


async def list_page(
    session: AsyncSession,
    *,
    filters: PostFilter,
    sort: SortKey,
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[PublicRow]:
    return await _fetch(session, paginate(_filtered(session, filters), sort, after, limit))


SEARCH_CANDIDATES = 1000
"""PostgreSQL ranks at most this many matches: the newest ones (docs/domain.md, search)."""


async def search(session: AsyncSession, *, q: str, limit: int) -> Sequence[PublicRow]:
    """The `limit` best-ranked published posts (ties broken by newest id).

    On PostgreSQL only the newest SEARCH_CANDIDATES matches are ranked: ranking every match of
    a common word (`ts_rank` reads each row's tsvector) cost ~60 ms of CPU per query on the
    benchmark data set, ~1.5 ms bounded. A better-ranked older post can be missed; the
    keyset-paginated `GET /posts?q=` still walks every match.
    """
    published = col(Post.status) == PostStatus.published
    if dialects.dialect_name(session) == "postgresql":
        # The text is rendered as an escaped literal at execution (literal_execute), not sent
        # as a parameter: with a parameter, PostgreSQL switches the prepared statement to a
        # generic plan after five runs, which assumes few matches and heap-scans every match
        # of a common word (~57 ms). With the literal the planner sees the word's frequency
        # and walks the newest posts backwards instead (~2.7 ms). The soft-delete filter
        # applies to the subquery too (it is an ORM select of Post).
        text = bindparam("q", q, type_=String, literal_execute=True)
        query = func.websearch_to_tsquery(literal_column("'english'"), text)
        candidates = (
            select(col(Post.id))
            .where(published, _SEARCH_VECTOR.op("@@")(query))
            .order_by(col(Post.id).desc())
            .limit(literal_column(str(SEARCH_CANDIDATES)))  # a constant: part of the plan
            .subquery("candidates")
        )
        rank = func.ts_rank(_SEARCH_VECTOR, query)
        statement = (
            public_rows()
            .join(candidates, candidates.c.id == col(Post.id))
            .order_by(rank.desc(), col(Post.id).desc())
        )
    else:
        fts_query = fts5_query(q)
        if fts_query is None:
            return []
        # bm25() is lower for better matches.
        statement = (
            public_rows()
            .join(_fts, literal_column("posts_fts.rowid") == col(Post.id))
            .where(published, literal_column("posts_fts").op("MATCH")(fts_query))
            .order_by(func.bm25(literal_column("posts_fts")), col(Post.id).desc())
        )
    return await _fetch(session, statement.limit(limit))


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
    statement = (
        public_rows().join(ranked, ranked.c.id == col(Post.id)).where(ranked.c.rank <= per_author)
    )
    return await _fetch(session, paginate(statement, sort, after, limit))


async def replace_tags(session: AsyncSession, post_id: int, tag_ids: Sequence[int]) -> None:
    await session.exec(delete(PostTag).where(col(PostTag.post_id) == post_id))
    if tag_ids:
        rows = [{"post_id": post_id, "tag_id": tag_id} for tag_id in tag_ids]
        await session.exec(dialects.insert(session, PostTag).values(rows))


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
    likes = LIKES
    deleted = await session.exec(
        delete(likes)
        .where(likes.c.post_id == post_id, likes.c.user_id == user_id)
        .returning(likes.c.post_id)
    )
    if deleted.first() is None:
        return None
    return await _bump(session, post_id, -1)


async def _bump(session: AsyncSession, post_id: int, delta: int) -> int:
    posts = POSTS
    result = await session.exec(
        update(posts)
        .where(posts.c.id == post_id)
        .values(like_count=posts.c.like_count + delta)
        .returning(posts.c.like_count)
    )
    count: int = result.scalar_one()
    return count


async def like_count(session: AsyncSession, post_id: int) -> int:
    result = await session.exec(select(POSTS.c.like_count).where(POSTS.c.id == post_id))
    count: int = result.one()
    return count


async def taken_slugs(session: AsyncSession, candidates: Sequence[str]) -> set[str]:
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
