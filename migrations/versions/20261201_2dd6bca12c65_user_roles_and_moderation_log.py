"""user roles and moderation log

Revision ID: 2dd6bca12c65
Revises: 5d1e2f3a4b6c
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2dd6bca12c65"
down_revision: str | Sequence[str] | None = "5d1e2f3a4b6c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moderation_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "post.delete",
                "post.restore",
                "comment.delete",
                "comment.restore",
                "user.role",
                name="action",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_moderation_log_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_log")),
    )
    with op.batch_alter_table("moderation_log", schema=None) as batch_op:
        batch_op.create_index("ix_moderation_log_actor_id", ["actor_id"], unique=False)
        batch_op.create_index("ix_moderation_log_at_id", ["at", "id"], unique=False)

    # A constant server default: PostgreSQL 11+ adds the column without rewriting the table.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "role",
                sa.Enum(
                    "member",
                    "moderator",
                    "admin",
                    name="role",
                    native_enum=False,
                    create_constraint=True,
                    length=16,
                ),
                server_default="member",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        # The enum's CHECK goes first: SQLite's table copy would keep it, naming a lost column.
        batch_op.drop_constraint(op.f("ck_users_role"), type_="check")
        batch_op.drop_column("role")

    with op.batch_alter_table("moderation_log", schema=None) as batch_op:
        batch_op.drop_index("ix_moderation_log_at_id")
        batch_op.drop_index("ix_moderation_log_actor_id")

    op.drop_table("moderation_log")
