"""`GET /posts/export`: every post a filter matches, oldest first, streamed as NDJSON or CSV.

Memory stays flat: CHUNK rows at a time (a declared cursor on the primary on PostgreSQL, keyset
chunks on SQLite: `repository.export_chunks`, docs/domain.md). The query runs before the first
byte, so a busy database is a 503 problem, not a truncated 200."""

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Row
from sqlmodel.ext.asyncio.session import AsyncSession

from service.kit.errors import Unauthorized
from service.posts import repository
from service.posts.models import PostStatus
from service.posts.queries import PublicRow
from service.posts.representation import build
from service.posts.schemas import PostFilter, PostPublic
from service.users.models import User

CHUNK = 1000
"""Rows per fetch: bounds the memory of one export (~1 MB of rows at a time)."""

CSV_COLUMNS = (
    "id",
    "slug",
    "title",
    "status",
    "author_id",
    "author_username",
    "created_at",
    "updated_at",
    "like_count",
    "version",
    "tags",
    "metadata",
    "body",
)


class ExportFormat(StrEnum):
    ndjson = "ndjson"
    csv = "csv"


MEDIA_TYPES = {ExportFormat.ndjson: "application/x-ndjson", ExportFormat.csv: "text/csv"}


def scoped(filters: PostFilter, viewer: User) -> PostFilter:
    """Drafts and scheduled posts are only ever the viewer's own (the rule of `GET /posts`)."""
    if filters.status is not PostStatus.published:
        if viewer.id is None:
            raise Unauthorized("Sign in to export your drafts.")
        return PostFilter(**{**filters.__dict__, "author_id": viewer.id})
    return filters


def _posts(rows: Sequence[Row[Any]]) -> list[PostPublic]:
    return [build(cast(PublicRow, row._mapping)) for row in rows]


def ndjson_lines(rows: Sequence[Row[Any]]) -> bytes:
    """One JSON document per line, each exactly what `GET /posts/{id}` returns."""
    lines = [post.model_dump_json(by_alias=True) for post in _posts(rows)]
    return ("\n".join(lines) + "\n").encode()


def csv_lines(rows: Sequence[Row[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for post in _posts(rows):
        writer.writerow(
            (
                post.id,
                post.slug,
                post.title,
                post.status.value,
                post.author.id,
                post.author.username,
                post.created_at.isoformat(),
                post.updated_at.isoformat(),
                post.like_count,
                post.version,
                " ".join(post.tags),
                json.dumps(post.meta, separators=(",", ":")),
                post.body,
            )
        )
    return buffer.getvalue().encode()


async def encode(
    chunks: AsyncIterator[Sequence[Row[Any]]], export_format: ExportFormat
) -> AsyncIterator[bytes]:
    """The response body: one write per chunk of rows (CSV starts with its header row)."""
    if export_format is ExportFormat.csv:
        yield (",".join(CSV_COLUMNS) + "\r\n").encode()
        async for rows in chunks:
            yield csv_lines(rows)
        return
    async for rows in chunks:
        if rows:
            yield ndjson_lines(rows)


async def export(
    session: AsyncSession, *, filters: PostFilter, viewer: User, export_format: ExportFormat
) -> AsyncIterator[bytes]:
    """Start the export (the query runs now) and return its body, chunk by chunk."""
    chunks = await repository.export_chunks(session, scoped(filters, viewer), CHUNK)
    return encode(chunks, export_format)
