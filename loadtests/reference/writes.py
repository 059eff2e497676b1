"""The raw writer: `POST /api/v1/posts` with asyncpg alone, the same statements as the service.

Verify the JWT, check the user's `token_version`, INSERT the post ... ON CONFLICT (slug) DO
NOTHING RETURNING, INSERT its outbox row (taking the outbox's order lock and NOTIFYing, as the
service's `jobs/outbox.py` does), one transaction, 201 with the post as the service answers it.
Published posts only, no tags, no slug given (what the write probe sends)."""

import json
import os
import re
import secrets
import unicodedata
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from loadtests.reference import feed
from loadtests.reference.columns import maybe_when, when

USER = "SELECT username, display_name, created_at, token_version FROM users WHERE id = $1"
INSERT_POST = """
INSERT INTO posts (author_id, title, slug, body, excerpt, status, metadata, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, 'published', $6::jsonb, $7, $7)
ON CONFLICT (slug) DO NOTHING
RETURNING id, slug, title, body, status, publish_at, metadata, like_count, version,
          created_at, updated_at
"""
INSERT_EVENT = """
INSERT INTO outbox_events (topic, payload, state, attempts, run_after, created_at)
SELECT 'post.published', $1::jsonb, 'pending', 0, $2, $2
FROM (SELECT pg_advisory_xact_lock(1231973239), pg_notify('inkwell_outbox', '')) AS ordered
RETURNING id
"""


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:212] or "post"


async def create_post(request: Request) -> Response:
    try:
        user_id, version = feed.token_user(
            request.headers.get("authorization", ""), os.environ.get("JWT_SECRET", "")
        )
    except ValueError as error:
        return JSONResponse({"detail": str(error)}, status_code=401)
    data: dict[str, Any] = json.loads(await request.body())
    title, body, meta = data["title"], data["body"], data.get("metadata", {})
    now = datetime.now(UTC)
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as conn, conn.transaction():
        user = await conn.fetchrow(USER, user_id)
        if user is None or user["token_version"] != version:
            return JSONResponse({"detail": "The access token is no longer valid."}, status_code=401)
        slug, row = _slug(title), None
        while row is None:
            args = (user_id, title, slug, body, body[:280], json.dumps(meta), now)
            row = await conn.fetchrow(INSERT_POST, *args)
            slug = f"{_slug(title)}-{secrets.token_hex(3)}"
        payload = json.dumps({"post_id": row["id"], "author_id": user_id})
        await conn.fetchval(INSERT_EVENT, payload, now)
    post = {
        **{k: row[k] for k in ("id", "slug", "title", "body", "status", "like_count", "version")},
        "publish_at": maybe_when(row["publish_at"]),
        "metadata": json.loads(row["metadata"]),
        "created_at": when(row["created_at"]),
        "updated_at": when(row["updated_at"]),
        "author": {
            "id": user_id,
            "username": user["username"],
            "display_name": user["display_name"],
            "created_at": when(user["created_at"]),
        },
        "tags": [],
        "bookmarked": False,
    }
    return JSONResponse(post, status_code=201, headers={"Location": f"/api/v1/posts/{row['id']}"})
