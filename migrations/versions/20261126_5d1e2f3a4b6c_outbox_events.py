"""outbox events; notifications carry type, actor and the event they came from

Revision ID: 5d1e2f3a4b6c
Revises: 1b3518b1a048
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1e2f3a4b6c"
down_revision: str | Sequence[str] | None = "1b3518b1a048"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_events_state_run_after", ["state", "run_after"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_events_created_at"), ["created_at"], unique=False
        )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_id", BIGINT, nullable=True))
        batch_op.add_column(sa.Column("event_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("type", sa.String(length=32), nullable=False, server_default="post.published")
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_actor_id_users"),
            "users",
            ["actor_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_notifications_event_id_user_id"), ["event_id", "user_id"]
        )
        batch_op.create_index("ix_notifications_actor_id", ["actor_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_actor_id")
        batch_op.drop_constraint(batch_op.f("uq_notifications_event_id_user_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_notifications_actor_id_users"), type_="foreignkey")
        batch_op.drop_column("type")
        batch_op.drop_column("event_id")
        batch_op.drop_column("actor_id")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_events_created_at"))
        batch_op.drop_index("ix_outbox_events_state_run_after")
    op.drop_table("outbox_events")
