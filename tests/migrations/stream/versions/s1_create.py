"""create an indexed table

Revision ID: s1
"""

import sqlalchemy as sa

from alembic import op

revision = "s1"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "stream_items",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("obsolete", sa.String(16)),
    )
    op.create_index("ix_stream_items_name", "stream_items", ["name"])
    op.create_index("ix_stream_items_qty", "stream_items", ["qty"])


def downgrade() -> None:
    op.drop_table("stream_items")
