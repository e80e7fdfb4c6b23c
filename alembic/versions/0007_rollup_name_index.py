"""rollup name index: obsstore_metric_rollups indexed by (level_us, name, bucket)

Reads from rollups filter one level, a few metric names and a bucket range; the primary key
(level_us, bucket, series) reaches every name's rows of that range, so a panel of one name among
many read them all. Created where the dialect profile has B-tree range indexes (SQLite,
PostgreSQL); DuckDB and ClickHouse serve ranges from zone maps and sort keys. Adding an index
changes no row.

Revision ID: 0007_rollup_name_index
Revises: 0006_row_key_storage
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op
from obsstore.migration_helpers import dialect_profile

revision: str = "0007_rollup_name_index"
down_revision: str | None = "0006_row_key_storage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "obsstore_metric_rollups"
INDEX = "ix_obsstore_metric_rollups_level_us_name_bucket"


def upgrade() -> None:
    if dialect_profile().range_indexes:
        op.create_index(INDEX, TABLE, ["level_us", "name", "bucket"])


def downgrade() -> None:
    if dialect_profile().range_indexes:
        op.drop_index(INDEX, table_name=TABLE)
