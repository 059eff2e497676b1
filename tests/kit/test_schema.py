"""Schema facts the drift test cannot see: hand-made search objects, indexed foreign keys.

Drift and round trip: tests/test_migrations.py."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from service.models import metadata

DOMAIN_TABLES = {"profiles", "tags", "post_tags", "post_likes", "comments", "follows"}


async def test_search_objects_exist(connection: AsyncConnection, backend: str) -> None:
    if backend == "postgresql":
        names = await connection.execute(
            text("SELECT indexname FROM pg_indexes WHERE tablename = 'posts'")
        )
        assert {"ix_posts_search_vector", "ix_posts_metadata"} <= set(names.scalars())
    else:
        names = await connection.execute(
            text("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        )
        expected = {"posts_fts", "posts_fts_ai", "posts_fts_ad", "posts_fts_au"}
        assert expected <= set(names.scalars())


def test_every_foreign_key_leads_an_index() -> None:
    """Cascades and joins on a foreign key never scan the whole child table."""
    missing = []
    for table in metadata.tables.values():
        leading = {tuple(c.name for c in index.columns)[:1] for index in table.indexes}
        leading.add(tuple(c.name for c in table.primary_key.columns)[:1])
        for constraint in table.constraints:
            cols = tuple(getattr(constraint, "columns", ()))
            if (
                getattr(constraint, "unique", False)
                or type(constraint).__name__ == "UniqueConstraint"
            ):
                leading.add(tuple(c.name for c in cols)[:1])
        for fk in table.foreign_keys:
            if (fk.parent.name,) not in leading:
                missing.append(f"{table.name}.{fk.parent.name}")
    assert missing == []


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO follows (follower_id, followee_id, followed_at) "
        "VALUES (:u, :u, CURRENT_TIMESTAMP)",
        "UPDATE posts SET like_count = -1 WHERE author_id = :u",
    ],
)
async def test_check_constraints_hold_in_the_database(
    connection: AsyncConnection, sql: str
) -> None:
    now = "CURRENT_TIMESTAMP"
    user = await connection.execute(
        text(
            "INSERT INTO users (username, email, password_hash, token_version, created_at, "
            f"updated_at) VALUES ('ck', 'ck@example.com', 'x', 0, {now}, {now}) RETURNING id"
        )
    )
    uid = user.scalar_one()
    await connection.execute(
        text(
            "INSERT INTO posts (author_id, title, slug, body, status, like_count, version, "
            f"metadata, created_at, updated_at) VALUES (:u, 't', 'ck-slug', 'b', 'draft', 0, 1, "
            f"'{{}}', {now}, {now})"
        ),
        {"u": uid},
    )
    savepoint = await connection.begin_nested()
    with pytest.raises(IntegrityError):
        await connection.execute(text(sql), {"u": uid})
    await savepoint.rollback()
