"""backfill posts.excerpt in batches (data only; the column is 5c3f9e2a7b1d)

Revision ID: b7e0a1c4d2f9
Revises: 5c3f9e2a7b1d
Create Date: 2026-12-01

The pattern to copy for a data migration (docs/deploy.md, "Data migrations"):

- separate from the DDL: the column exists (and is committed) before any row is touched;
- keyset over the primary key: each batch is `id > last ORDER BY id LIMIT batch`, an index range
  scan, never OFFSET and never one UPDATE of the whole table;
- bounded transactions: run by `alembic upgrade`, each batch is ONE statement committed on its
  own (`autocommit_block`), so locks and WAL stay small and replicas keep up;
- resumable: only rows still NULL are touched, so a run that stopped (killed, or
  `-x backfill_max_batches=N`) continues where it left off when run again;
- idempotent and online: the new code already writes `excerpt` for new and edited rows.

`-x backfill_batch=N` sets the batch size (default 5000). Given a connection that is already in
a transaction (the test suite's), the batches run inside it, uncommitted.
Offline (`--sql`), the script carries the same statement unbatched, for the DBA to run in slices.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "b7e0a1c4d2f9"
down_revision: str | Sequence[str] | None = "5c3f9e2a7b1d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000

# One statement per batch: pick the next ids still to fill (keyset), fill them, return them.
_BATCH = sa.text(
    "UPDATE posts SET excerpt = substr(body, 1, 280) WHERE id IN ("
    " SELECT id FROM posts WHERE id > :last AND excerpt IS NULL ORDER BY id LIMIT :batch"
    ") RETURNING id"
)


class BackfillStopped(RuntimeError):
    """Raised after `backfill_max_batches`: the revision is not stamped, its batches are kept."""


def _backfill(bind: sa.Connection, batch: int, max_batches: int | None) -> int:
    last, done, batches = 0, 0, 0
    while True:
        if max_batches is not None and batches >= max_batches:
            raise BackfillStopped(f"stopped after {batches} batches ({done} rows); run again")
        ids = bind.execute(_BATCH, {"last": last, "batch": batch}).scalars().all()
        if not ids:
            return done
        last, done, batches = max(ids), done + len(ids), batches + 1


def upgrade() -> None:
    if context.is_offline_mode():
        op.execute(
            "-- data migration: online, `alembic upgrade` runs this in batches of 5000 ids\n"
            "UPDATE posts SET excerpt = substr(body, 1, 280) WHERE excerpt IS NULL"
        )
        return
    options = context.get_x_argument(as_dictionary=True)
    batch = int(options.get("backfill_batch", BATCH))
    stop = options.get("backfill_max_batches")
    max_batches = None if stop is None else int(stop)
    if context.config.attributes.get("owns_transaction"):
        with op.get_context().autocommit_block():
            _backfill(op.get_bind(), batch, max_batches)
    else:
        _backfill(op.get_bind(), batch, max_batches)


def downgrade() -> None:
    # Data only: the column (and its values) go with 5c3f9e2a7b1d's downgrade.
    pass
