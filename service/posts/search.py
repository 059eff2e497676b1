"""Full-text search: PostgreSQL `tsvector` / `websearch_to_tsquery`, SQLite FTS5."""

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, String, bindparam, func, literal_column, table
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.db import dialects
from service.posts import read_model
from service.posts.models import Post, PostStatus
from service.posts.read_model import PublicRow

# SQLite's external-content FTS5 table (created by the migration, synced by triggers).
_fts = table("posts_fts")
_SEARCH_VECTOR: ColumnElement[Any] = literal_column("posts.search_vector")
_TERM = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')

SEARCH_CANDIDATES = 1000
"""PostgreSQL ranks at most this many matches: the newest ones (docs/domain.md, search)."""


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


def matches(session: AsyncSession, q: str) -> ColumnElement[bool]:
    """The condition `posts match q`, for filtering (no ranking)."""
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


async def best_matches(session: AsyncSession, *, q: str, limit: int) -> Sequence[PublicRow]:
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
            read_model.public_rows("postgresql")
            .join(candidates, candidates.c.id == col(Post.id))
            .order_by(rank.desc(), col(Post.id).desc())
        )
    else:
        fts_query = fts5_query(q)
        if fts_query is None:
            return []
        # bm25() is lower for better matches.
        statement = (
            read_model.public_rows("sqlite")
            .join(_fts, literal_column("posts_fts.rowid") == col(Post.id))
            .where(published, literal_column("posts_fts").op("MATCH")(fts_query))
            .order_by(func.bm25(literal_column("posts_fts")), col(Post.id).desc())
        )
    return await read_model.fetch(session, statement.limit(limit))
