"""bookmarks (the reading list) and the partial index of live posts the home feed merges

Revision ID: e4b1c7d9a2f3
Revises: 842682f62f82
Create Date: 2026-12-08
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4b1c7d9a2f3"
down_revision: str | Sequence[str] | None = "842682f62f82"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LIVE = "status = 'published' AND deleted_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "bookmarks",
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("post_id", BIGINT, nullable=False),
        sa.Column("bookmarked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_bookmarks_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bookmarks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "post_id", name=op.f("pk_bookmarks")),
    )
    with op.batch_alter_table("bookmarks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bookmarks_user_id_bookmarked_at", ["user_id", "bookmarked_at", "post_id"]
        )
        batch_op.create_index("ix_bookmarks_post_id", ["post_id"])
    op.create_index(
        "ix_posts_live_author_id_created_at_id",
        "posts",
        ["author_id", "created_at", "id"],
        postgresql_where=sa.text(LIVE),
        sqlite_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("ix_posts_live_author_id_created_at_id", table_name="posts")
    with op.batch_alter_table("bookmarks", schema=None) as batch_op:
        batch_op.drop_index("ix_bookmarks_post_id")
        batch_op.drop_index("ix_bookmarks_user_id_bookmarked_at")
    op.drop_table("bookmarks")
