"""rollup histograms: summed histogram bucket counts on obsstore_metric_rollups

A rollup row of a histogram series holds its points' bucket bounds and their bucket counts
summed, where every point of the row has counts and the same bounds (both NULL otherwise, and on
every row written before this revision until its bucket is recomputed). Both columns are
nullable, so every stored rollup row stays valid and keeps its values.

Revision ID: 0005_rollup_histograms
Revises: 0004_otel_columns
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa

from obsstore.migration_helpers import alter_table
from obsstore.sqltypes import UTCTimestamp, json_document, varchar

revision: str = "0005_rollup_histograms"
down_revision: str | None = "0004_otel_columns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = ("bucket_boundaries", "bucket_counts")


def _rollups_before() -> sa.Table:
    """obsstore_metric_rollups as 0003_rollups made it (a rebuild recreates its key)."""
    return sa.Table(
        "obsstore_metric_rollups",
        sa.MetaData(),
        sa.Column("level_us", sa.BigInteger(), nullable=False),
        sa.Column("bucket", UTCTimestamp(), nullable=False),
        sa.Column("series", varchar(64), nullable=False),
        sa.Column("name", varchar(255), nullable=False),
        sa.Column("type", varchar(16), nullable=False),
        sa.Column("labels", json_document(), nullable=False),
        sa.Column("organization_id", varchar(255)),
        sa.Column("environment", varchar(255)),
        sa.Column("service_name", varchar(255)),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sum", sa.Double(), nullable=False),
        sa.Column("min", sa.Double(), nullable=False),
        sa.Column("max", sa.Double(), nullable=False),
        sa.Column("last_value", sa.Double(), nullable=False),
        sa.Column("last_timestamp", UTCTimestamp(), nullable=False),
        sa.Column("last_id", varchar(128), nullable=False),
        # Unnamed: a rebuild on DuckDB cannot drop a named constraint of the old table first.
        sa.PrimaryKeyConstraint("level_us", "bucket", "series"),
    )


def upgrade() -> None:
    with alter_table("obsstore_metric_rollups", _rollups_before()) as batch:
        batch.add_column(sa.Column("bucket_boundaries", json_document()))
        batch.add_column(sa.Column("bucket_counts", json_document()))


def downgrade() -> None:
    before = _rollups_before()
    for name in NEW_COLUMNS:
        before.append_column(sa.Column(name, json_document()))
    with alter_table("obsstore_metric_rollups", before) as batch:
        for name in NEW_COLUMNS:
            batch.drop_column(name)
