"""Settings read from ``OBSERVABILITY_METRICS_*`` environment variables, and the rules that turn
a storage kind and a URL into one backend choice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from obsstore.errors import ConfigurationError

ENV_PREFIX = "OBSERVABILITY_METRICS_"
STORAGE_VAR = ENV_PREFIX + "STORAGE"
URL_VAR = ENV_PREFIX + "DATABASE_URL"

KINDS = ("memory", "sqlite", "duckdb", "postgresql", "database")
_KIND_ALIASES = {"postgres": "postgresql"}
DEFAULT_URLS = {"sqlite": "sqlite:///obsstore.db", "duckdb": "duckdb:///obsstore.duckdb"}
# SQLAlchemy driver names obsstore accepts per kind, and the one it uses.
_DRIVERS = {
    "sqlite": ({"sqlite", "sqlite+pysqlite"}, "sqlite"),
    "duckdb": ({"duckdb"}, "duckdb"),
    "postgresql": ({"postgresql", "postgres", "postgresql+psycopg"}, "postgresql+psycopg"),
}


class Settings(BaseSettings):
    """Every setting obsstore reads from the environment (prefix ``OBSERVABILITY_METRICS_``)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    storage: str | None = None
    database_url: str | None = None
    auto_migrate: bool = True
    batch_size: int = Field(100, ge=1, le=1_000_000)
    batch_interval: int = Field(5000, ge=1, le=86_400_000)  # milliseconds
    max_pending: int = Field(100_000, ge=1, le=100_000_000)
    spool_dir: Path | None = None

    @field_validator("spool_dir", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        # An exported but empty variable would otherwise become Path("."): spool into the cwd.
        return None if isinstance(value, str) and not value.strip() else value


def load_settings() -> Settings:
    """Read the environment; a bad value raises ``ConfigurationError`` naming its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{str(err['loc'][0]).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"invalid obsstore setting: {problems}") from None


@dataclass(frozen=True)
class StorageTarget:
    """A resolved backend choice: its kind and, for the SQL kinds, a normalised URL."""

    kind: str
    url: URL | None


def resolve_target(target: str | None = None, settings: Settings | None = None) -> StorageTarget:
    """Turn ``create_storage``'s argument (a kind, a URL or ``None``) plus the environment into a
    backend kind and URL, or raise ``ConfigurationError`` naming the setting at fault."""
    settings = settings if settings is not None else load_settings()
    if target is not None and "://" in target:
        return _from_url(target, "create_storage(url)")
    if target is not None:
        kind, kind_source = target, "create_storage(kind)"
    else:
        kind, kind_source = settings.storage or "memory", STORAGE_VAR
    kind = _KIND_ALIASES.get(kind.strip().lower(), kind.strip().lower())
    if kind not in KINDS:
        raise ConfigurationError(
            f"{kind_source}: unknown storage kind {kind!r}; valid values are "
            f"{', '.join(KINDS)} (postgres is an alias of postgresql)"
        )
    if kind == "memory":
        return StorageTarget("memory", None)
    raw_url = settings.database_url or DEFAULT_URLS.get(kind)
    if raw_url is None:
        raise ConfigurationError(
            f"{URL_VAR} is required when the storage kind is {kind!r} (set by {kind_source}); "
            "give a SQLAlchemy URL such as postgresql://user@host/db"
        )
    resolved = _from_url(raw_url, URL_VAR)
    if kind != "database" and resolved.kind != kind:
        raise ConfigurationError(
            f"{kind_source} says {kind!r} but {URL_VAR} is a {resolved.kind} URL; "
            f"make them agree, or set {STORAGE_VAR}=database to follow the URL"
        )
    return resolved


def _from_url(raw_url: str, source: str) -> StorageTarget:
    try:
        url = make_url(raw_url)
    except ArgumentError:
        raise ConfigurationError(f"{source}: not a valid SQLAlchemy URL") from None
    for kind, (accepted, driver) in _DRIVERS.items():
        if url.drivername in accepted:
            return StorageTarget(kind, url.set(drivername=driver))
    raise ConfigurationError(
        f"{source}: unsupported URL scheme {url.drivername!r}; use sqlite://, duckdb:// or "
        "postgresql:// (postgresql+psycopg://; obsstore talks to PostgreSQL through psycopg 3)"
    )
