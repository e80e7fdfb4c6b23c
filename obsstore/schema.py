"""Every obsstore table, dialect-neutral. Tables, columns and indexes come into being only
through the Alembic migrations in ``alembic/versions``; this module is what they must equal."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from obsstore import registry
from obsstore.ddl import ROW_KEY
from obsstore.models.traces import SPAN_TEXT_FIELDS
from obsstore.registry import DialectProfile
from obsstore.sqltypes import UTCTimestamp, json_document, labels_document, varchar

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


# Which indexes a dialect gets is a fact of its profile in the registry; the migrations ask
# the same facts. SQLAlchemy calls a ddl_if(callable_=...) with the dialect among keywords.
def _profile(kw: dict[str, Any]) -> DialectProfile:
    return registry.profile_for(kw["dialect"].name)


def _range_indexes(*args: Any, **kw: Any) -> bool:
    return _profile(kw).range_indexes


def _time_index(*args: Any, **kw: Any) -> bool:
    return _profile(kw).range_indexes and not _profile(kw).time_name_index


def _time_name_index(*args: Any, **kw: Any) -> bool:
    return _profile(kw).range_indexes and _profile(kw).time_name_index


def _label_index(*args: Any, **kw: Any) -> bool:
    return _profile(kw).label_index_options is not None


def _keyed(*args: Any, **kw: Any) -> bool:
    table: sa.Table = args[1].table  # (ddl, target, ...): target is the primary key
    return table.name not in _profile(kw).unkeyed_tables


def _partial_indexes(*args: Any, **kw: Any) -> bool:
    return _profile(kw).partial_index_option is not None


def _label_index_options() -> dict[str, Any]:
    # Every dialect's keywords at once: each dialect reads only its own.
    return {k: v for p in registry.profiles() for k, v in (p.label_index_options or {}).items()}


def _partial(where: sa.ColumnElement[bool]) -> dict[str, Any]:
    return {p.partial_index_option: where for p in registry.profiles() if p.partial_index_option}


metrics = sa.Table(
    "obsstore_metrics",
    metadata,
    # Stored as the dialect profile's row_key_compression says (from 0006_row_key_storage).
    sa.Column("id", varchar(128), primary_key=True, info=ROW_KEY),
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
    # From 0004_otel_columns: what OpenTelemetry points carry beyond the value.
    sa.Column("unit", varchar(255)),
    sa.Column("start_timestamp", UTCTimestamp()),
    sa.Column("histogram_count", sa.BigInteger()),
    sa.Column("histogram_min", sa.Double()),
    sa.Column("histogram_max", sa.Double()),
)
# B-tree indexes for name and time ranges, where the dialect profile has them.
sa.Index(None, metrics.c.name, metrics.c.timestamp).ddl_if(callable_=_range_indexes)
sa.Index(None, metrics.c.timestamp).ddl_if(callable_=_time_index)
sa.Index(None, metrics.c.timestamp, metrics.c.name).ddl_if(callable_=_time_name_index)
# Label filters on a dialect that can index the labels document (its options say how).
sa.Index(None, metrics.c.labels, **_label_index_options()).ddl_if(callable_=_label_index)

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
# dialect has partial indexes (elsewhere, scans with zone maps serve). get_trace and get_span
# use the primary key (trace_id, span_id).
sa.Index(
    "ix_obsstore_spans_root_started_at",
    spans.c.started_at,
    **_partial(spans.c.parent_span_id.is_(None)),
).ddl_if(callable_=_partial_indexes)

# --- rollups (see obsstore/lifecycle): downsampled metrics, kept longer than raw points -------

# One row per level (its interval in microseconds), bucket start and series: the series key is
# a hash of name, type, labels, organization, environment and service, which are kept beside it
# for filters and group_by.
metric_rollups = sa.Table(
    "obsstore_metric_rollups",
    metadata,
    sa.Column("level_us", sa.BigInteger(), primary_key=True),
    sa.Column("bucket", UTCTimestamp(), primary_key=True),
    sa.Column("series", varchar(64), primary_key=True),
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
    # From 0005_rollup_histograms: a histogram series' bucket bounds and its points' bucket
    # counts summed, where every point has counts and the same bounds (NULL otherwise).
    sa.Column("bucket_boundaries", json_document()),
    sa.Column("bucket_counts", json_document()),
)

# Reads from rollups take one level, a few names and a bucket range (0007_rollup_name_index):
# the primary key would reach every name's rows of the range.
sa.Index(None, metric_rollups.c.level_us, metric_rollups.c.name, metric_rollups.c.bucket).ddl_if(
    callable_=_range_indexes
)

# The quantile sketch of each rollup row: its non-empty bins (see obsstore/lifecycle/sketch.py).
metric_rollup_bins = sa.Table(
    "obsstore_metric_rollup_bins",
    metadata,
    sa.Column("level_us", sa.BigInteger(), primary_key=True),
    sa.Column("bucket", UTCTimestamp(), primary_key=True),
    sa.Column("series", varchar(64), primary_key=True),
    sa.Column("bin", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("count", sa.BigInteger(), nullable=False),
)
# Not enforced where the dialect profile lists the table as unkeyed (0009_unkeyed_rollup_bins):
# the rows are unique without it, as a rollup deletes its buckets' bins and inserts them from
# one GROUP BY (bucket, series, bin) in the same transaction, and nothing reads them by key.
metric_rollup_bins.primary_key.ddl_if(callable_=_keyed)

# Per level: every bucket starting before complete_until is materialised; rows before
# pruned_before are deleted. Level 0 is the raw points (pruned_before: the raw horizon).
rollup_state = sa.Table(
    "obsstore_rollup_state",
    metadata,
    sa.Column("level_us", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("complete_until", UTCTimestamp()),
    sa.Column("pruned_before", UTCTimestamp()),
)
