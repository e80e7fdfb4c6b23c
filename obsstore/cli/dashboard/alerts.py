"""Dashboard alerts: ``STAT<VALUE`` or ``STAT>VALUE`` over the window's summary.

Statistics: ``success_rate`` and ``error_rate`` (fractions, 0.9 or 90%), ``requests`` (a
count), ``avg``, ``p95`` and ``p99`` (durations: ``5s``, ``250ms``, ``1m``; a bare number is
milliseconds). The defaults are :data:`DEFAULT_ALERTS`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from obsstore.errors import InvalidArgumentError

DEFAULT_ALERTS = ("success_rate<0.9", "p99>5s")
RATES = ("success_rate", "error_rate")
DURATIONS = ("avg", "p95", "p99")
COUNTS = ("requests",)
_PATTERN = re.compile(r"\s*([a-z_0-9]+)\s*([<>])\s*([0-9.]+)\s*(ms|s|m|%)?\s*")
_UNIT_MS = {None: 1.0, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Alert:
    statistic: str
    above: bool  # True: fires when the value is above the threshold
    threshold: float  # a fraction, a count or milliseconds
    text: str

    def fires(self, value: float | None) -> bool:
        if value is None:
            return False
        return value > self.threshold if self.above else value < self.threshold

    def near(self, value: float | None) -> bool:
        """Within 20 % of firing: shown in yellow."""
        if value is None or self.fires(value):
            return False
        margin = abs(self.threshold) * 0.2
        return value > self.threshold - margin if self.above else value < self.threshold + margin


def parse_alert(text: str) -> Alert:
    match = _PATTERN.fullmatch(text.lower())
    if match is None:
        raise InvalidArgumentError(
            f"--alert {text!r}: write STAT<VALUE or STAT>VALUE, e.g. success_rate<0.9 or p99>5s"
        )
    statistic, operator, number, unit = match.groups()
    try:
        value = float(number)
    except ValueError:
        raise InvalidArgumentError(f"--alert {text!r}: {number!r} is not a number") from None
    if statistic in RATES:
        if unit not in (None, "%"):
            raise InvalidArgumentError(f"--alert {text!r}: a rate is a fraction or a percentage")
        value = value / 100 if unit == "%" else value
    elif statistic in DURATIONS:
        if unit == "%":
            raise InvalidArgumentError(f"--alert {text!r}: a duration takes ms, s or m")
        value *= _UNIT_MS[unit]
    elif statistic in COUNTS:
        if unit is not None:
            raise InvalidArgumentError(f"--alert {text!r}: requests is a plain count")
    else:
        known = ", ".join((*RATES, *DURATIONS, *COUNTS))
        raise InvalidArgumentError(f"--alert {text!r}: unknown statistic; one of {known}")
    return Alert(statistic, operator == ">", value, text.strip())
