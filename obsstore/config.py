"""Settings read from ``OBSERVABILITY_METRICS_*`` environment variables, and the rules that turn
a storage kind and a URL into one backend choice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
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
    """The storage settings obsstore reads from the environment (prefix
    ``OBSERVABILITY_METRICS_``). The writer's own variables are read only when a writer is
    created (``obsstore.writer.settings``), so a bad one never stops ``create_storage()``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    storage: str | None = None
    database_url: str | None = None
    auto_migrate: bool = True


_Environment = TypeVar("_Environment", bound=BaseSettings)


def read_environment(settings_class: type[_Environment]) -> _Environment:
    """Read ``settings_class`` from the environment; a bad value raises ``ConfigurationError``
    naming its variable."""
    try:
        return settings_class()
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{str(err['loc'][0]).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"invalid obsstore setting: {problems}") from None


def load_settings() -> Settings:
    """Read the storage settings; a bad value raises ``ConfigurationError`` naming its variable."""
    return read_environment(Settings)


@dataclass(frozen=True)
class StorageTarget:
    """A resolved backend choice: its kind and, for the SQL kinds, a normalised URL."""

    kind: str
    url: URL | None

    @property
    def database_file(self) -> Path | None:
        """The file an embedded database lives in (``None`` for servers and memory)."""
        backend = registry.get(self.kind)
        if backend.profile is None or backend.profile.file_suffix is None or self.url is None:
            return None
        database = self.url.database
        if database in (None, "", ":memory:") or "mode=memory" in str(self.url.query):
            return None
        if str(self.url.query.get("uri", "")).lower() in ("true", "1"):
            return None  # a SQLite URI filename: not a plain path
        return Path(database)


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
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        raise ConfigurationError(f"{source}: not a valid SQLAlchemy URL ({exc})") from None
    backend = registry.for_url_driver(url.drivername)
    if backend is None:
        schemes = ", ".join(f"{b.url_scheme}://" for b in registry.BACKENDS if b.url_drivers)
        raise ConfigurationError(
            f"{source}: unsupported URL scheme {url.drivername!r}; use one of {schemes}"
        )
    _check_numeric_options(url, backend.numeric_url_options, source)
    driver = url.drivername if url.drivername in backend.mode_url_drivers else backend.driver
    return StorageTarget(backend.kind, url.set(drivername=driver))


def _check_numeric_options(url: URL, options: tuple[str, ...], source: str) -> None:
    # The driver parses these as numbers; checked here so that a typo names the setting.
    for option in options:
        value = url.query.get(option)
        if value is None:
            continue
        try:
            number = float(value if isinstance(value, str) else value[-1])
        except ValueError:
            number = float("nan")
        if not number >= 0 or number == float("inf"):
            raise ConfigurationError(
                f"{source}: ?{option}= must be a number of seconds, not {value!r}"
            )
