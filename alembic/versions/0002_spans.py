"""spans: the obsstore_spans table for traces

Revision ID: 0002_spans
Revises: 0001_metrics
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from obsstore.migration_helpers import dialect_profile
from obsstore.sqltypes import UTCTimestamp, json_document, varchar

revision: str = "0002_spans"
down_revision: str | None = "0001_metrics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_COLUMNS = (
    "entity_type", "entity_id", "entity_name", "user_id", "organization_id", "resource_id",
    "run_id", "session_id", "thread_id", "request_id", "environment", "service_name", "source",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "obsstore_spans",
        sa.Column("trace_id", varchar(128), nullable=False),
        sa.Column("span_id", varchar(128), nullable=False),
        sa.Column("parent_span_id", varchar(128)),
        sa.Column("name", varchar(255), nullable=False),
        sa.Column("span_type", varchar(255), nullable=False),
        sa.Column("started_at", UTCTimestamp(), nullable=False),
        sa.Column("ended_at", UTCTimestamp()),
        sa.Column("is_event", sa.Boolean(), nullable=False),
        sa.Column("input", json_document()),
        sa.Column("output", json_document()),
        sa.Column("error", json_document()),
        sa.Column("metadata", json_document()),
        sa.Column("attributes", json_document()),
        sa.Column("scope", json_document()),
        sa.Column("tags", json_document()),
        *(sa.Column(name, varchar(255)) for name in TEXT_COLUMNS),
        sa.Column("created_at", UTCTimestamp(), nullable=False),
        sa.Column("updated_at", UTCTimestamp(), nullable=False),
        sa.PrimaryKeyConstraint("trace_id", "span_id", name="pk_obsstore_spans"),
    )
    # A partial index of root spans by start time, where the dialect has partial indexes.
    option = dialect_profile().partial_index_option
    if option is not None:
        op.create_index(
            "ix_obsstore_spans_root_started_at",
            "obsstore_spans",
            ["started_at"],
            **{option: sa.text("parent_span_id IS NULL")},
        )


def downgrade() -> None:
    op.drop_table("obsstore_spans")
