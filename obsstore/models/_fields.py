"""Field types shared by records and queries: strict text, UTC timestamps, finite numbers.

Every rule here is the same for every backend, so a bad value is rejected before any backend
sees it."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timedelta, timezone
from random import getrandbits as _getrandbits
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)

MAX_NAME_LENGTH = 255
MAX_KEY_LENGTH = 128
MAX_LABEL_VALUE_LENGTH = 4096
MAX_ID_LENGTH = 128
MAX_LABELS = 64

# C0 and C1 control characters (NUL included) and lone surrogates, which no database stores.
_FORBIDDEN_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


# The characters of ASCII that are allowed: printable ASCII, 0x20 to 0x7e.
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


def free_of_forbidden_chars(text: str) -> bool:
    """``text`` has none of ``_FORBIDDEN_CHARS``. ASCII text (ids, names, most labels) is
    checked by deleting its printable bytes, a table pass about four times cheaper than the
    regular expression; other text by the expression."""
    if text.isascii():
        return not text.encode("ascii").translate(None, _PRINTABLE_ASCII)
    return _FORBIDDEN_CHARS.search(text) is None


def reject_control_chars(value: str) -> str:
    if _FORBIDDEN_CHARS.search(value) is not None:
        raise ValueError("must not contain control characters (NUL included) or lone surrogates")
    return value


def check_name_text(value: str) -> str:
    """Text that names something (a metric, span, label key, tag, id): no control characters
    and not whitespace only."""
    if value.isspace():
        raise ValueError("must not be whitespace only")
    return reject_control_chars(value)


def _label_value_to_text(value: Any) -> Any:
    # int and bool become text the way JSON spells them; anything else but str is an error.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raise ValueError(f"label values must be str, int or bool, not {type(value).__name__}")


def _finite_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, not {type(value).__name__}")
    try:
        result = float(value)
    except OverflowError:  # an int beyond the float range
        raise ValueError("must be finite (within the float range)") from None
    if not math.isfinite(result):
        raise ValueError("must be finite (no NaN or infinity)")
    # -0.0 becomes 0.0 so that ordering and equality agree on every backend.
    return result + 0.0


# An ISO 8601 date and time of day (the rest is pydantic's to parse): no bare dates, no digits.
_ISO_DATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")


def _datetime_or_iso_text(value: Any) -> Any:
    """Only a datetime or an ISO 8601 date-time string: a digit string such as "1700000000"
    is not read as epoch seconds (the number itself is refused too), and a bare date such as
    "2024-05-01" is refused rather than guessed to mean midnight UTC."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE_TIME.match(value):
        return value
    if isinstance(value, str):
        raise ValueError('must be an ISO 8601 date and time such as "2024-05-01T12:00:00Z"')
    raise ValueError(f"must be a datetime or an ISO 8601 string, not {type(value).__name__}")


def to_utc(value: datetime) -> datetime:
    """Naive datetimes are UTC; aware ones are converted to UTC. Years 1970..9999 only."""
    if value.tzinfo is None:
        result = value.replace(tzinfo=UTC)
    else:
        try:
            result = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("must lie in the years 1970..9999 (UTC)") from None
    if result.year < 1970:
        raise ValueError("must lie in the years 1970..9999 (UTC)")
    return result


def to_epoch_us(value: datetime) -> int:
    """Microseconds since 1970-01-01 UTC of an aware datetime, exactly."""
    return (value - EPOCH) // ONE_MICROSECOND


def from_epoch_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def utc_now() -> datetime:
    return datetime.now(UTC)


# The millisecond of the last id and the text it begins with (one tuple, swapped whole, so
# threads never pair one millisecond with another's text).
_last_prefix: tuple[int, str] = (-1, "")
_RAND_B = (1 << 62) - 1
_FIXED_BITS = 1 << 76 | 0b10 << 62  # a leading digit to keep the width, and the variant


def new_id() -> str:
    """A time-ordered UUIDv7 string: new rows land at the end of B-tree indexes. Its 74
    random bits come from ``random.getrandbits`` (several times cheaper than ``os.urandom``,
    and ids need uniqueness, not secrecy; the module's generator is reseeded in a forked
    child, so parent and child do not repeat each other). The timestamp's text is formatted
    once per millisecond: ids are made on ``record()``'s hot path."""
    global _last_prefix
    unix_ms = time.time_ns() // 1_000_000
    last = _last_prefix
    if last[0] != unix_ms:
        ms = unix_ms & 0xFFFF_FFFF_FFFF
        last = _last_prefix = (unix_ms, f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7")
    rand = _getrandbits(74)
    h = f"{rand >> 62 << 64 | rand & _RAND_B | _FIXED_BITS:x}"
    return f"{last[1]}{h[1:4]}-{h[4:8]}-{h[8:]}"


Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH),
    AfterValidator(check_name_text),
]
MetricName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(check_name_text),
]
LabelKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH),
    AfterValidator(check_name_text),
]
LabelValue = Annotated[
    str,
    BeforeValidator(_label_value_to_text),
    StringConstraints(max_length=MAX_LABEL_VALUE_LENGTH),
    AfterValidator(reject_control_chars),
]
ResourceText = Annotated[
    str,
    StringConstraints(max_length=MAX_NAME_LENGTH),
    AfterValidator(reject_control_chars),
]
Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=MAX_LABELS)]
FiniteFloat = Annotated[float, BeforeValidator(_finite_float)]
UtcDatetime = Annotated[datetime, BeforeValidator(_datetime_or_iso_text), AfterValidator(to_utc)]
