"""metrics: the obsstore_metrics table and its indexes

Revision ID: 0001_metrics
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from obsstore.migration_helpers import dialect_profile
from obsstore.sqltypes import UTCTimestamp, json_document, labels_document, varchar

revision: str = "0001_metrics"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "obsstore_metrics",
        sa.Column("id", varchar(128), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name="pk_obsstore_metrics"),
    )
    # Which indexes the dialect gets is a fact of its profile (see obsstore/registry.py).
    profile = dialect_profile()
    if profile.range_indexes:
        op.create_index(
            "ix_obsstore_metrics_name_timestamp", "obsstore_metrics", ["name", "timestamp"]
        )
        op.create_index("ix_obsstore_metrics_timestamp", "obsstore_metrics", ["timestamp"])
    if profile.label_index_options is not None:
        op.create_index(
            "ix_obsstore_metrics_labels",
            "obsstore_metrics",
            ["labels"],
            **profile.label_index_options,
        )


def downgrade() -> None:
    op.drop_table("obsstore_metrics")
