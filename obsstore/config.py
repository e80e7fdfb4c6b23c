"""Settings read from ``OBSERVABILITY_METRICS_*`` environment variables, and the rules that turn
a storage kind and a URL into one backend choice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from obsstore import registry
from obsstore.errors import ConfigurationError

ENV_PREFIX = "OBSERVABILITY_METRICS_"
STORAGE_VAR = ENV_PREFIX + "STORAGE"
URL_VAR = ENV_PREFIX + "DATABASE_URL"

# The kind that follows whatever backend the URL names.
FOLLOW_URL = "database"


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
    backend = registry.find(kind)
    if backend is None and kind.strip().lower() != FOLLOW_URL:
        aliases = "; ".join(
            f"{a} is an alias of {b.kind}" for b in registry.BACKENDS for a in b.aliases
        )
        raise ConfigurationError(
            f"{kind_source}: unknown storage kind {kind.strip().lower()!r}; valid values are "
            f"{', '.join((*registry.kinds(), FOLLOW_URL))} ({aliases})"
        )
    kind = backend.kind if backend is not None else FOLLOW_URL
    if backend is not None and backend.profile is None:
        return StorageTarget(backend.kind, None)
    raw_url = settings.database_url or (backend.default_url if backend is not None else None)
    if raw_url is None:
        raise ConfigurationError(
            f"{URL_VAR} is required when the storage kind is {kind!r} (set by {kind_source}); "
            "give a SQLAlchemy URL such as postgresql://user@host/db"
        )
    resolved = _from_url(raw_url, URL_VAR)
    if kind != FOLLOW_URL and resolved.kind != kind:
        raise ConfigurationError(
            f"{kind_source} says {kind!r} but {URL_VAR} is a {resolved.kind} URL; "
            f"make them agree, or set {STORAGE_VAR}={FOLLOW_URL} to follow the URL"
        )
    return resolved


def _from_url(raw_url: str, source: str) -> StorageTarget:
    try:
        url = make_url(raw_url)
    except ArgumentError:
        raise ConfigurationError(f"{source}: not a valid SQLAlchemy URL") from None
    backend = registry.for_url_driver(url.drivername)
    if backend is None:
        schemes = ", ".join(f"{b.url_scheme}://" for b in registry.BACKENDS if b.url_drivers)
        raise ConfigurationError(
            f"{source}: unsupported URL scheme {url.drivername!r}; use one of {schemes}"
        )
    return StorageTarget(backend.kind, url.set(drivername=backend.driver))
