"""Every obsstore table, dialect-neutral. Tables, columns and indexes come into being only
through the Alembic migrations in ``alembic/versions``; this module is what they must equal."""

from __future__ import annotations

import sqlalchemy as sa

from obsstore.models.traces import SPAN_TEXT_FIELDS
from obsstore.sqltypes import UTCTimestamp, json_document, varchar

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# obsstore's own version table, so it can share a database with an application's Alembic.
VERSION_TABLE = "obsstore_alembic_version"

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

metrics = sa.Table(
    "obsstore_metrics",
    metadata,
    sa.Column("id", varchar(128), primary_key=True),
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
)
# B-tree indexes for name and time ranges on SQLite and PostgreSQL. DuckDB never plans its ART
# indexes for such range filters (it scans with min/max zone maps, which suit points stored in
# time order) and maintaining them cost about a fifth of its ingest speed: see bench/README.md.
INDEXED_DIALECTS = ("sqlite", "postgresql")
# (ddl_if documents a tuple of dialect names; its annotation says str.)
sa.Index(None, metrics.c.name, metrics.c.timestamp).ddl_if(dialect=INDEXED_DIALECTS)  # type: ignore[arg-type]
sa.Index(None, metrics.c.timestamp).ddl_if(dialect=INDEXED_DIALECTS)  # type: ignore[arg-type]
# Label filters become JSONB containment (labels @> '{"route": "/x"}'), which this index serves.
sa.Index(
    None,
    metrics.c.labels,
    postgresql_using="gin",
    postgresql_ops={"labels": "jsonb_path_ops"},
).ddl_if(dialect="postgresql")

spans = sa.Table(
    "obsstore_spans",
    metadata,
    sa.Column("trace_id", varchar(128), primary_key=True),
    sa.Column("span_id", varchar(128), primary_key=True),
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
    *(sa.Column(name, varchar(255)) for name in SPAN_TEXT_FIELDS),
    sa.Column("created_at", UTCTimestamp(), nullable=False),
    sa.Column("updated_at", UTCTimestamp(), nullable=False),
)
# list_traces reads root spans by start time: a partial index holds only roots where the
# dialect has partial indexes; DuckDB scans with zone maps instead (an ART index would only
# slow writes). get_trace and get_span use the primary key (trace_id, span_id).
sa.Index(
    "ix_obsstore_spans_root_started_at",
    spans.c.started_at,
    postgresql_where=spans.c.parent_span_id.is_(None),
    sqlite_where=spans.c.parent_span_id.is_(None),
).ddl_if(dialect=("postgresql", "sqlite"))  # type: ignore[arg-type]  # a tuple is documented
