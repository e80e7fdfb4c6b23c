"""row key storage: obsstore_metrics.id stored as the dialect profile says (DuckDB: uncompressed)

DuckDB deletes a row by fetching its key for the key's index, one row at a time; from a
compressed string segment that costs about 0.2 ms a row, which made pruning a million points take
minutes. An uncompressed id column makes it about 1 µs a row for about 18 % more file. Where the
profile has no ``row_key_compression`` this revision changes nothing. The rebuild keeps every
row.

Revision ID: 0006_row_key_storage
Revises: 0005_rollup_histograms
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from alembic import op
from obsstore.ddl import ROW_KEY
from obsstore.migration_helpers import dialect_profile
from obsstore.sqltypes import UTCTimestamp, json_document, varchar

revision: str = "0006_row_key_storage"
down_revision: str | None = "0005_rollup_histograms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _metrics(id_info: dict[str, Any]) -> sa.Table:
    """obsstore_metrics as 0004_otel_columns left it, its id column with ``id_info``."""
    profile = dialect_profile()
    table = sa.Table(
        "obsstore_metrics",
        sa.MetaData(),
        sa.Column("id", varchar(128), primary_key=True, info=id_info),
        sa.Column("timestamp", UTCTimestamp(), nullable=False),
        sa.Column("name", varchar(255), nullable=False),
        sa.Column("type", varchar(16), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("labels", json_document(), nullable=False),
        sa.Column("organization_id", varchar(255)),
        sa.Column("environment", varchar(255)),
        sa.Column("service_name", varchar(255)),
        sa.Column("trace_id", varchar(255)),
        sa.Column("span_id", varchar(255)),
        sa.Column("bucket_boundaries", json_document()),
        sa.Column("bucket_counts", json_document()),
        sa.Column("unit", varchar(255)),
        sa.Column("start_timestamp", UTCTimestamp()),
        sa.Column("histogram_count", sa.BigInteger()),
        sa.Column("histogram_min", sa.Double()),
        sa.Column("histogram_max", sa.Double()),
    )
    if profile.range_indexes:
        sa.Index("ix_obsstore_metrics_name_timestamp", table.c.name, table.c.timestamp)
        sa.Index("ix_obsstore_metrics_timestamp", table.c.timestamp)
    if profile.label_index_options is not None:
        sa.Index("ix_obsstore_metrics_labels", table.c.labels, **profile.label_index_options)
    return table


def _rebuild(id_info: dict[str, Any]) -> None:
    if dialect_profile().row_key_compression is None:
        return
    # The new table is created from copy_from (its id column's info picks the storage); the
    # rows are copied into it whole.
    with op.batch_alter_table(
        "obsstore_metrics", copy_from=_metrics(id_info), recreate="always"
    ) as batch:
        batch.alter_column("id", existing_type=varchar(128), existing_nullable=False)


def upgrade() -> None:
    _rebuild(ROW_KEY)


def downgrade() -> None:
    _rebuild({})
