"""time index with the name (PostgreSQL): obsstore_metrics (timestamp, name) replaces (timestamp)

PostgreSQL reads a recent window (``timestamp >= ...``) through the time index, whose rows are
in the table's order. With the name in that index it checks the name there and fetches only the
rows of that name; a label filter on a window is then checked on those rows (see
``labels_match_in_window``) instead of ANDing a GIN scan of the label's whole history, so the
cost of a fixed window no longer grows with the store. Where the dialect profile has no
``time_name_index`` this revision changes nothing. Indexes only: every row is kept (building the
index blocks writes to the table while it runs).

Revision ID: 0008_pg_label_window
Revises: 0007_rollup_name_index
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op
from obsstore.migration_helpers import dialect_profile

revision: str = "0008_pg_label_window"
down_revision: str | None = "0007_rollup_name_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "obsstore_metrics"
_TIME, _TIME_NAME = "ix_obsstore_metrics_timestamp", "ix_obsstore_metrics_timestamp_name"


def _applies() -> bool:
    profile = dialect_profile()
    return profile.range_indexes and profile.time_name_index


def upgrade() -> None:
    if _applies():
        op.create_index(_TIME_NAME, _TABLE, ["timestamp", "name"])
        op.drop_index(_TIME, table_name=_TABLE)


def downgrade() -> None:
    if _applies():
        op.create_index(_TIME, _TABLE, ["timestamp"])
        op.drop_index(_TIME_NAME, table_name=_TABLE)
