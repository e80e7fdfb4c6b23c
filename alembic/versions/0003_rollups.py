"""rollups: downsampled metrics, their quantile sketches and the rollup watermarks

Revision ID: 0003_rollups
Revises: 0002_spans
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from obsstore.sqltypes import UTCTimestamp, labels_document, varchar

revision: str = "0003_rollups"
down_revision: str | None = "0002_spans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows are found by (level, bucket range): the primary keys serve that on every dialect.
    op.create_table(
        "obsstore_metric_rollups",
        sa.Column("level_us", sa.BigInteger(), nullable=False),
        sa.Column("bucket", UTCTimestamp(), nullable=False),
        sa.Column("series", varchar(64), nullable=False),
        sa.Column("name", varchar(255), nullable=False),
        sa.Column("type", varchar(16), nullable=False),
        sa.Column("labels", labels_document(), nullable=False),
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
        sa.PrimaryKeyConstraint("level_us", "bucket", "series", name="pk_obsstore_metric_rollups"),
    )
    op.create_table(
        "obsstore_metric_rollup_bins",
        sa.Column("level_us", sa.BigInteger(), nullable=False),
        sa.Column("bucket", UTCTimestamp(), nullable=False),
        sa.Column("series", varchar(64), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "level_us", "bucket", "series", "bin", name="pk_obsstore_metric_rollup_bins"
        ),
    )
    op.create_table(
        "obsstore_rollup_state",
        sa.Column("level_us", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("complete_until", UTCTimestamp()),
        sa.Column("pruned_before", UTCTimestamp()),
        sa.PrimaryKeyConstraint("level_us", name="pk_obsstore_rollup_state"),
    )


def downgrade() -> None:
    op.drop_table("obsstore_rollup_state")
    op.drop_table("obsstore_metric_rollup_bins")
    op.drop_table("obsstore_metric_rollups")
