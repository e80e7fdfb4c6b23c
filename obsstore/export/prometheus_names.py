"""Metric and label names as Prometheus accepts them, by OpenTelemetry's Prometheus
compatibility rules: characters outside ``[a-zA-Z0-9_:]`` (labels: ``[a-zA-Z0-9_]``) become
``_``, runs of ``_`` collapse, a leading digit gets a ``_`` (labels: ``key_``); the unit, when
there is one, is appended as a word (``ms`` -> ``_milliseconds``, ``By`` -> ``_bytes``,
``1`` on a gauge -> ``_ratio``); counters end in ``_total`` (added by the exposition)."""

from __future__ import annotations

import re
from collections.abc import Mapping

_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_UNDERSCORES = re.compile(r"__+")

UNIT_WORDS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "%": "percent",
}
_PER_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month"}


def unit_suffix(unit: str | None, *, gauge: bool) -> str:
    """The word(s) a unit adds to a name; annotations in braces (``{request}``) add none."""
    if not unit:
        return ""
    unit = re.sub(r"\{[^}]*\}", "", unit).strip()
    if unit == "1":
        return "ratio" if gauge else ""
    if not unit:
        return ""
    if "/" in unit:
        top, _, bottom = unit.partition("/")
        words = [UNIT_WORDS.get(top, top)] if top else []
        words.append("per_" + _PER_WORDS.get(bottom, UNIT_WORDS.get(bottom, bottom)))
        return _clean("_".join(words), _INVALID_LABEL)
    return _clean(UNIT_WORDS.get(unit, unit), _INVALID_LABEL)


def _clean(text: str, invalid: re.Pattern[str]) -> str:
    return _UNDERSCORES.sub("_", invalid.sub("_", text)).strip("_")


def metric_name(name: str, unit: str | None = None, *, gauge: bool = False) -> str:
    """A Prometheus metric name (without ``_total``) for an obsstore name and unit."""
    result = _UNDERSCORES.sub("_", _INVALID_NAME.sub("_", name))
    if not result or result[0].isdigit():
        result = "_" + result
    suffix = unit_suffix(unit, gauge=gauge)
    if suffix and not result.endswith("_" + suffix) and result != suffix:
        result = f"{result.rstrip('_')}_{suffix}"
    if result.endswith("_total"):  # the exposition adds it to counters; never twice
        result = result[: -len("_total")] or "_"
    return result


def label_name(key: str) -> str:
    result = _UNDERSCORES.sub("_", _INVALID_LABEL.sub("_", key))
    if not result:
        return "_"
    if result[0].isdigit():
        result = "key_" + result
    if result.startswith("__"):  # reserved for Prometheus' own labels
        result = "key" + result
    return result


RESERVED = ("le", "quantile")


def label_set(
    labels: Mapping[str, str], service_name: str | None = None, environment: str | None = None
) -> dict[str, str]:
    """Labels with sanitised keys; keys that sanitise alike have their values joined with
    ``;`` in key order (as the compatibility rules say). The service becomes ``job`` and the
    environment ``environment`` unless a label already has that name. ``le`` and ``quantile``
    (the exposition's own) become ``key_le`` and ``key_quantile``."""
    result: dict[str, str] = {}
    for key in sorted(labels):
        name = label_name(key)
        if name in RESERVED:
            name = "key_" + name
        result[name] = f"{result[name]};{labels[key]}" if name in result else labels[key]
    if service_name is not None:
        result.setdefault("job", service_name)
    if environment is not None:
        result.setdefault("environment", environment)
    return result
