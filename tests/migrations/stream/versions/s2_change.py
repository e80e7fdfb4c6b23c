"""add, alter and drop columns of the indexed table

Revision ID: s2
"""

import sqlalchemy as sa

from obsstore.migration_helpers import alter_table

revision = "s2"
down_revision = "s1"

BEFORE = sa.Table(
    "stream_items",
    sa.MetaData(),
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("qty", sa.Integer(), nullable=False),
    sa.Column("obsolete", sa.String(16)),
    sa.Index("ix_stream_items_name", "name"),
    sa.Index("ix_stream_items_qty", "qty"),
)


def upgrade() -> None:
    with alter_table("stream_items", BEFORE) as batch:
        batch.add_column(sa.Column("note", sa.String(128), server_default="none"))
        batch.alter_column("qty", existing_type=sa.Integer(), type_=sa.BigInteger())
        batch.alter_column("name", existing_type=sa.String(64), new_column_name="title")
        batch.drop_column("obsolete")


def downgrade() -> None:
    raise NotImplementedError("test stream only goes up")
