"""The writer's options: constructor arguments override ``OBSERVABILITY_METRICS_*`` variables,
and a bad value of either raises ``ConfigurationError`` naming the argument or the variable.
The variables are read when a writer is created, never by ``create_storage()``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from obsstore.config import ENV_PREFIX, read_environment
from obsstore.errors import ConfigurationError


class WriterEnvironment(BaseSettings):
    """The writer's ``OBSERVABILITY_METRICS_*`` variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    batch_size: int = Field(100, ge=1, le=1_000_000)
    batch_interval: int = Field(5000, ge=1, le=86_400_000)  # milliseconds
    max_pending: int = Field(100_000, ge=1, le=100_000_000)
    spool_dir: Path | None = None

    @field_validator("spool_dir", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        # An exported but empty variable would otherwise become Path("."): spool into the cwd.
        return None if isinstance(value, str) and not value.strip() else value


# argument name -> (Settings field, environment variable)
_SOURCES = {
    "batch_size": ("batch_size", ENV_PREFIX + "BATCH_SIZE"),
    "flush_interval": ("batch_interval", ENV_PREFIX + "BATCH_INTERVAL"),
    "max_pending": ("max_pending", ENV_PREFIX + "MAX_PENDING"),
    "spool_dir": ("spool_dir", ENV_PREFIX + "SPOOL_DIR"),
}

_SPOOL_VAR = _SOURCES["spool_dir"][1]


@dataclass(frozen=True)
class WriterSettings:
    batch_size: int  # records per transaction at most; a full batch is written at once
    flush_interval: int  # milliseconds a record may wait for its batch to fill
    max_pending: int  # records held in memory at most; beyond it the oldest are dropped
    spool_dir: Path | None  # where accepted records are spooled until stored (None: no spool)

    @property
    def flush_interval_seconds(self) -> float:
        return self.flush_interval / 1000.0


def resolve_writer_settings(
    *,
    batch_size: Any = None,
    flush_interval: Any = None,
    max_pending: Any = None,
    spool_dir: Any = None,
    settings: WriterEnvironment | None = None,
) -> WriterSettings:
    env = settings if settings is not None else read_environment(WriterEnvironment)
    spool_source = "MetricsWriter(spool_dir=...)" if spool_dir is not None else _SPOOL_VAR
    return WriterSettings(
        batch_size=_integer("batch_size", batch_size, env),
        flush_interval=_integer("flush_interval", flush_interval, env),
        max_pending=_integer("max_pending", max_pending, env),
        spool_dir=_directory(spool_dir if spool_dir is not None else env.spool_dir, spool_source),
    )


def _bounds(field: str) -> tuple[int, int]:
    """The limits ``WriterEnvironment`` declares for ``field``, so arguments and variables agree."""
    low, high = 1, 2**63 - 1
    for constraint in WriterEnvironment.model_fields[field].metadata:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    return low, high


def _integer(argument: str, value: Any, env: WriterEnvironment) -> int:
    field, variable = _SOURCES[argument]
    if value is None:
        return int(getattr(env, field))
    low, high = _bounds(field)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(
            f"MetricsWriter({argument}={value!r}): must be an integer from {low} to {high} "
            f"(it overrides {variable})"
        )
    return value


def _directory(value: Any, source: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ConfigurationError(f"{source}: must be a directory path, not {value!r}")
    path = Path(value).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"{source}: cannot create spool directory {path}: {exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigurationError(f"{source}: spool directory {path} is not writable")
    return path
