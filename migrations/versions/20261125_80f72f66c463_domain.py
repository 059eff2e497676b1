"""domain: profiles, tags, comments, follows, likes, slug, full-text search

PostgreSQL-only objects (generated tsvector + GIN, GIN on metadata) and the SQLite FTS5 table
with its triggers are created here by hand; migrations/env.py keeps them out of autogenerate.
SQLite batch migrations that later recreate `posts` drop its triggers: such a migration must
call `_create_fts_triggers()` again (copy it) after the batch block.

Revision ID: 80f72f66c463
Revises: 7fa302288c98
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "80f72f66c463"
down_revision: str | Sequence[str] | None = "7fa302288c98"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tags",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "follows",
        sa.Column(
            "follower_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "followee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("followed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("follower_id <> followee_id", name=op.f("ck_follows_no_self_follow")),
        sa.ForeignKeyConstraint(
            ["followee_id"],
            ["users.id"],
            name=op.f("fk_follows_followee_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["follower_id"],
            ["users.id"],
            name=op.f("fk_follows_follower_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("follower_id", "followee_id", name=op.f("pk_follows")),
    )
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_follows_followee_id_followed_at",
            ["followee_id", "followed_at", "follower_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_follows_follower_id_followed_at",
            ["follower_id", "followed_at", "followee_id"],
            unique=False,
        )

    op.create_table(
        "profiles",
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bio", sa.Text(), server_default="", nullable=False),
        sa.Column("location", sa.String(length=100), server_default="", nullable=False),
        sa.Column("website", sa.String(length=200), server_default="", nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_profiles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_profiles")),
    )
    op.create_table(
        "comments",
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "author_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_comments_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["comments.id"],
            name=op.f("fk_comments_parent_id_comments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_comments_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.create_index("ix_comments_author_id", ["author_id"], unique=False)
        batch_op.create_index("ix_comments_parent_id_id", ["parent_id", "id"], unique=False)
        batch_op.create_index(
            "ix_comments_post_id_parent_id_id", ["post_id", "parent_id", "id"], unique=False
        )

    op.create_table(
        "post_likes",
        sa.Column("post_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_likes_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_post_likes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", name=op.f("pk_post_likes")),
    )
    with op.batch_alter_table("post_likes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_likes_user_id"), ["user_id"], unique=False)

    op.create_table(
        "post_tags",
        sa.Column("post_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tag_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_tags_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_post_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "tag_id", name=op.f("pk_post_tags")),
    )
    with op.batch_alter_table("post_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_tags_tag_id"), ["tag_id"], unique=False)

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slug", sa.String(length=220), nullable=True))
    # Existing rows get a unique slug from their id; new rows get one from their title.
    op.execute("UPDATE posts SET slug = 'post-' || id WHERE slug IS NULL")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.alter_column("slug", existing_type=sa.String(length=220), nullable=False)
        batch_op.create_index("ix_posts_like_count_id", ["like_count", "id"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_posts_slug"), ["slug"])

    if op.get_context().dialect.name == "postgresql":
        op.add_column(
            "posts",
            sa.Column(
                "search_vector",
                postgresql.TSVECTOR(),
                sa.Computed("to_tsvector('english', title || ' ' || body)", persisted=True),
                nullable=True,
            ),
        )
        op.create_index(
            "ix_posts_search_vector", "posts", ["search_vector"], postgresql_using="gin"
        )
        op.execute("CREATE INDEX ix_posts_metadata ON posts USING gin (metadata jsonb_path_ops)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE posts_fts USING fts5("
            "title, body, content='posts', content_rowid='id', tokenize='porter unicode61')"
        )
        op.execute("INSERT INTO posts_fts(posts_fts) VALUES ('rebuild')")
        _create_fts_triggers()


def _create_fts_triggers() -> None:
    """Keep the external-content FTS5 index in step with `posts` (SQLite only)."""
    op.execute(
        "CREATE TRIGGER posts_fts_ai AFTER INSERT ON posts BEGIN "
        "INSERT INTO posts_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END"
    )
    op.execute(
        "CREATE TRIGGER posts_fts_ad AFTER DELETE ON posts BEGIN "
        "INSERT INTO posts_fts(posts_fts, rowid, title, body) "
        "VALUES ('delete', old.id, old.title, old.body); END"
    )
    op.execute(
        "CREATE TRIGGER posts_fts_au AFTER UPDATE OF title, body ON posts BEGIN "
        "INSERT INTO posts_fts(posts_fts, rowid, title, body) "
        "VALUES ('delete', old.id, old.title, old.body); "
        "INSERT INTO posts_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END"
    )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.drop_index("ix_posts_metadata", table_name="posts")
        op.drop_index("ix_posts_search_vector", table_name="posts", postgresql_using="gin")
        op.drop_column("posts", "search_vector")
    else:
        for trigger in ("posts_fts_ai", "posts_fts_ad", "posts_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS posts_fts")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_posts_slug"), type_="unique")
        batch_op.drop_index("ix_posts_like_count_id")
        batch_op.drop_column("slug")

    with op.batch_alter_table("post_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_tags_tag_id"))

    op.drop_table("post_tags")
    with op.batch_alter_table("post_likes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_likes_user_id"))

    op.drop_table("post_likes")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_post_id_parent_id_id")
        batch_op.drop_index("ix_comments_parent_id_id")
        batch_op.drop_index("ix_comments_author_id")

    op.drop_table("comments")
    op.drop_table("profiles")
    with op.batch_alter_table("follows", schema=None) as batch_op:
        batch_op.drop_index("ix_follows_follower_id_followed_at")
        batch_op.drop_index("ix_follows_followee_id_followed_at")

    op.drop_table("follows")
    op.drop_table("tags")
