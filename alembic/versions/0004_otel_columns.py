"""otel columns: unit, start time and histogram count/min/max on obsstore_metrics

OpenTelemetry points carry a unit, the start of their interval and, for histograms, the count,
minimum and maximum of the observations. All five columns are nullable, so every stored point
stays valid and keeps its values.

Revision ID: 0004_otel_columns
Revises: 0003_rollups
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa

from obsstore.migration_helpers import alter_table, dialect_profile
from obsstore.sqltypes import UTCTimestamp, json_document, labels_document, varchar

revision: str = "0004_otel_columns"
down_revision: str | None = "0003_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLUMNS = ("unit", "start_timestamp", "histogram_count", "histogram_min", "histogram_max")


def _metrics_before() -> sa.Table:
    """obsstore_metrics as 0001_metrics made it (a rebuild recreates these indexes)."""
    profile = dialect_profile()
    table = sa.Table(
        "obsstore_metrics",
        sa.MetaData(),
        sa.Column("id", varchar(128), primary_key=True),
        sa.Column("timestamp", UTCTimestamp(), nullable=False),
        sa.Column("name", varchar(255), nullable=False),
        sa.Column("type", varchar(16), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("labels", labels_document(), nullable=False),
        sa.Column("organization_id", varchar(255)),
        sa.Column("environment", varchar(255)),
        sa.Column("service_name", varchar(255)),
        sa.Column("trace_id", varchar(255)),
        sa.Column("span_id", varchar(255)),
        sa.Column("bucket_boundaries", json_document()),
        sa.Column("bucket_counts", json_document()),
    )
    if profile.range_indexes:
        sa.Index("ix_obsstore_metrics_name_timestamp", table.c.name, table.c.timestamp)
        sa.Index("ix_obsstore_metrics_timestamp", table.c.timestamp)
    if profile.label_index_options is not None:
        sa.Index("ix_obsstore_metrics_labels", table.c.labels, **profile.label_index_options)
    return table


def upgrade() -> None:
    with alter_table("obsstore_metrics", _metrics_before()) as batch:
        batch.add_column(sa.Column("unit", varchar(255)))
        batch.add_column(sa.Column("start_timestamp", UTCTimestamp()))
        batch.add_column(sa.Column("histogram_count", sa.BigInteger()))
        batch.add_column(sa.Column("histogram_min", sa.Double()))
        batch.add_column(sa.Column("histogram_max", sa.Double()))


def downgrade() -> None:
    before = _metrics_before()
    for name in NEW_COLUMNS:
        before.append_column(sa.Column(name, sa.Double()))  # types are irrelevant to a drop
    with alter_table("obsstore_metrics", before) as batch:
        for name in NEW_COLUMNS:
            batch.drop_column(name)
