"""Retention policies: how long raw points, rollups and traces are kept, from arguments or the
environment, and what one ``prune()`` did (``PruneReport``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from obsstore.errors import ConfigurationError
from obsstore.models.queries import parse_interval

RAW_RETENTION_VAR = "OBSERVABILITY_METRICS_RETENTION_DAYS"
ROLLUPS_VAR = "OBSERVABILITY_METRICS_ROLLUPS"
TRACES_RETENTION_VAR = "OBSERVABILITY_TRACES_RETENTION_DAYS"
DEFAULT_RAW_DAYS = 90
DEFAULT_ROLLUPS = "1h:400d,1d:1825d"
DEFAULT_TRACES_DAYS = 30
MAX_LEVELS = 8


def _duration_or_none(value: Any) -> timedelta | None:
    return parse_interval(value)


class RollupLevel(BaseModel):
    """One resolution of rollups: buckets ``interval`` wide, kept for ``keep`` (None: forever)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    interval: timedelta
    keep: timedelta | None = None

    @field_validator("interval", "keep", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> timedelta | None:
        return _duration_or_none(value)

    @property
    def micros(self) -> int:
        return self.interval // timedelta(microseconds=1)


class RetentionPolicy(BaseModel):
    """How long data is kept. ``raw``: raw points (None: forever); ``rollups``: the rollup
    levels, finest first; ``traces``: whole traces, by their root span's ``started_at``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    raw: timedelta | None = None
    rollups: list[RollupLevel] = Field(default_factory=list, max_length=MAX_LEVELS)
    traces: timedelta | None = None

    @field_validator("raw", "traces", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> timedelta | None:
        return _duration_or_none(value)

    @model_validator(mode="after")
    def _check_levels(self) -> RetentionPolicy:
        levels = sorted(self.rollups, key=lambda level: level.interval)
        object.__setattr__(self, "rollups", levels)
        for finer, coarser in pairwise(levels):
            if finer.interval == coarser.interval:
                raise ValueError(f"two rollup levels have the interval {finer.interval}")
            if coarser.interval % finer.interval:
                raise ValueError(
                    f"rollup interval {finer.interval} does not divide {coarser.interval}"
                )
        if self.raw is not None:
            for level in levels:
                if level.keep is not None and level.keep < self.raw:
                    raise ValueError(
                        f"rollup level {level.interval} keeps {level.keep}, less than the raw "
                        f"retention {self.raw}"
                    )
        return self


@dataclass(frozen=True)
class PruneReport:
    """What one ``prune()`` did (or, with ``dry_run``, would delete)."""

    points_deleted: int = 0
    rollup_rows_deleted: int = 0
    traces_deleted: int = 0
    spans_deleted: int = 0
    rollup_rows_written: int = 0
    seconds: float = 0.0
    dry_run: bool = False


def policy_from_environment(environ: Mapping[str, str] | None = None) -> RetentionPolicy:
    """The policy the environment sets (see the module constants for names and defaults); a bad
    value raises ``ConfigurationError`` naming its variable."""
    env = os.environ if environ is None else environ
    raw = _days(env, RAW_RETENTION_VAR, DEFAULT_RAW_DAYS)
    traces = _days(env, TRACES_RETENTION_VAR, DEFAULT_TRACES_DAYS)
    levels = _levels(env.get(ROLLUPS_VAR, DEFAULT_ROLLUPS))
    try:
        return RetentionPolicy(raw=raw, rollups=levels, traces=traces)
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        raise ConfigurationError(
            f"{RAW_RETENTION_VAR} and {ROLLUPS_VAR} disagree: {problems}"
        ) from None


def _days(env: Mapping[str, str], name: str, default: int) -> timedelta | None:
    text = env.get(name)
    if text is None:
        return timedelta(days=default)
    text = text.strip()
    if not text or text == "0":
        return None  # forever
    if not text.isdigit() or int(text) > 36_500:
        raise ConfigurationError(
            f"{name}: {text!r} is not a whole number of days between 0 (forever) and 36500"
        )
    return timedelta(days=int(text))


def _levels(text: str) -> list[RollupLevel]:
    levels = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        interval, _, keep = part.partition(":")
        try:
            levels.append(RollupLevel(interval=interval.strip(), keep=keep.strip() or None))
        except ValidationError as exc:
            problems = "; ".join(f"{e['loc'][0]} {e['msg']}" for e in exc.errors())
            raise ConfigurationError(
                f'{ROLLUPS_VAR}: {part!r} is not "<interval>[:<keep>]" such as "1h:400d" '
                f"({problems})"
            ) from None
    if len(levels) > MAX_LEVELS:
        raise ConfigurationError(f"{ROLLUPS_VAR}: at most {MAX_LEVELS} levels")
    return levels
