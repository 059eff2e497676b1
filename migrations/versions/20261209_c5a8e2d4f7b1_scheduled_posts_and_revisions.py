"""scheduled posts (`publish_at`, the widened status check, the due scan's partial index) and
post revisions

SQLite changes the CHECK constraints of `posts` in place (`_rewrite_posts_checks` says why not
a batch rebuild).

Revision ID: c5a8e2d4f7b1
Revises: e4b1c7d9a2f3
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5a8e2d4f7b1"
down_revision: str | Sequence[str] | None = "e4b1c7d9a2f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SCHEDULED = "status = 'scheduled'"
IFF = "(status = 'scheduled') = (publish_at IS NOT NULL)"
IFF_CONSTRAINT = f"CONSTRAINT ck_posts_publish_at_iff_scheduled CHECK ({IFF})"
STATUSES = "status IN ('draft', 'published', 'scheduled')"
OLD_STATUSES = "status IN ('draft', 'published')"


def _sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def upgrade() -> None:
    op.add_column("posts", sa.Column("publish_at", sa.DateTime(timezone=True), nullable=True))
    if _sqlite():
        _rewrite_posts_checks(f"CHECK ({OLD_STATUSES})", f"CHECK ({STATUSES}), {IFF_CONSTRAINT}")
    else:
        op.drop_constraint(op.f("ck_posts_status"), "posts", type_="check")
        op.create_check_constraint(op.f("ck_posts_status"), "posts", STATUSES)
        op.create_check_constraint(op.f("ck_posts_publish_at_iff_scheduled"), "posts", IFF)
    op.create_index(
        "ix_posts_scheduled_publish_at",
        "posts",
        ["publish_at"],
        postgresql_where=sa.text(SCHEDULED),
        sqlite_where=sa.text(SCHEDULED),
    )
    op.create_table(
        "post_revisions",
        sa.Column("post_id", BIGINT, nullable=False),
        sa.Column("number", BIGINT, autoincrement=False, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("editor_id", BIGINT, nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_revisions_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["users.id"],
            name=op.f("fk_post_revisions_editor_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "number", name=op.f("pk_post_revisions")),
    )
    op.create_index(op.f("ix_post_revisions_editor_id"), "post_revisions", ["editor_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_post_revisions_editor_id"), table_name="post_revisions")
    op.drop_table("post_revisions")
    op.drop_index("ix_posts_scheduled_publish_at", table_name="posts")
    # Scheduled posts go back to drafts: the old check knows no third status.
    op.execute("UPDATE posts SET status = 'draft', publish_at = NULL WHERE status = 'scheduled'")
    if _sqlite():
        _rewrite_posts_checks(f"CHECK ({STATUSES}), {IFF_CONSTRAINT}", f"CHECK ({OLD_STATUSES})")
        op.execute("ALTER TABLE posts DROP COLUMN publish_at")
    else:
        op.drop_constraint(op.f("ck_posts_publish_at_iff_scheduled"), "posts", type_="check")
        op.drop_constraint(op.f("ck_posts_status"), "posts", type_="check")
        op.create_check_constraint(op.f("ck_posts_status"), "posts", OLD_STATUSES)
        op.drop_column("posts", "publish_at")


def _rewrite_posts_checks(old: str, new: str) -> None:
    """SQLite: change CHECK constraints of `posts` in place, the way SQLite documents for
    changes that leave the stored rows as they are ("ALTER TABLE", other kinds of changes).

    A batch rebuild would DROP `posts`, and with foreign keys on (a PRAGMA that cannot change
    inside the migration's transaction) that deletes every comment, like, tag link and
    bookmark by cascade. The rows already meet the new constraints (no post is scheduled)."""
    bind = op.get_bind()
    table = "type = 'table' AND name = 'posts'"
    sql = bind.exec_driver_sql(f"SELECT sql FROM sqlite_master WHERE {table}").scalar_one()
    if old not in sql:
        raise RuntimeError(f"posts has no {old!r}: its schema was changed by hand")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.execute(
        sa.text(f"UPDATE sqlite_master SET sql = :sql WHERE {table}"),
        {"sql": sql.replace(old, new)},
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
