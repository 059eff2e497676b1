"""posts.excerpt column (expand: nullable, no data; the backfill is b7e0a1c4d2f9)

Revision ID: 5c3f9e2a7b1d
Revises: 2dd6bca12c65
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c3f9e2a7b1d"
down_revision: str | Sequence[str] | None = "2dd6bca12c65"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable and without a default: a catalog-only change on PostgreSQL (no table rewrite, a
    # brief ACCESS EXCLUSIVE lock), and old code keeps inserting rows without it.
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("excerpt", sa.String(length=280), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("excerpt")
