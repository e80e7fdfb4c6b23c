"""unkeyed rollup bins: obsstore_metric_rollup_bins without its primary key where the dialect
profile lists it in ``unkeyed_tables`` (DuckDB)

DuckDB keeps a primary key in an ART index that every inserted row updates: for the 1.4 million
sketch bins of a million points' rollup that was about half of the bins' INSERT. No statement
needs the key: a rollup deletes the bins of the buckets it recomputes and inserts them from one
``GROUP BY`` (bucket, series, bin) in the same transaction (two series with one key would
already fail the rollup rows' key, inserted first), and reads and deletes select bucket ranges
and join by (level, bucket, series), which DuckDB answers by scans and hash joins, not from the
key. Elsewhere this revision changes nothing. The rebuild keeps every row; the downgrade
restores the key.

Revision ID: 0009_unkeyed_rollup_bins
Revises: 0008_pg_label_window
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from obsstore.migration_helpers import dialect_profile
from obsstore.sqltypes import UTCTimestamp, varchar

revision: str = "0009_unkeyed_rollup_bins"
down_revision: str | None = "0008_pg_label_window"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "obsstore_metric_rollup_bins"
_KEY = ("level_us", "bucket", "series", "bin")


def _bins(*, keyed: bool) -> sa.Table:
    """obsstore_metric_rollup_bins as 0003_rollups created it, with or without its key (the
    key's columns stay NOT NULL either way). The key is unnamed: batch mode drops the named
    constraints of the old table first, which DuckDB cannot, and keeps no key names anyway."""
    key = [sa.PrimaryKeyConstraint(*_KEY)] if keyed else []
    return sa.Table(
        _TABLE,
        sa.MetaData(),
        sa.Column("level_us", sa.BigInteger(), nullable=False),
        sa.Column("bucket", UTCTimestamp(), nullable=False),
        sa.Column("series", varchar(64), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        *key,
    )


def _rebuild(*, keyed: bool) -> None:
    if _TABLE not in dialect_profile().unkeyed_tables:
        return
    # The new table is created from copy_from (with or without the key); the rows are copied
    # into it whole.
    with op.batch_alter_table(_TABLE, copy_from=_bins(keyed=keyed), recreate="always") as batch:
        batch.alter_column("count", existing_type=sa.BigInteger(), existing_nullable=False)


def upgrade() -> None:
    _rebuild(keyed=False)


def downgrade() -> None:
    _rebuild(keyed=True)
