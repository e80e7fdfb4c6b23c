"""Checks of plain call arguments (not models): each failure is an ``InvalidArgumentError``
naming the argument, raised before the call touches any storage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from obsstore.errors import InvalidArgumentError
from obsstore.models._fields import check_name_text, reject_control_chars

MAX_DISCOVERY_LIMIT = 100_000
_Model = TypeVar("_Model", bound=BaseModel)


def as_model(value: _Model | Mapping[str, Any] | None, model: type[_Model]) -> _Model:
    if value is None:
        return model()
    if isinstance(value, model):
        return value
    return model.model_validate(value)


def check_prefix(prefix: str | None) -> str | None:
    if prefix is None:
        return None
    if not isinstance(prefix, str):
        raise InvalidArgumentError(f"prefix must be a string, not {type(prefix).__name__}")
    try:
        return reject_control_chars(prefix)
    except ValueError as exc:
        raise InvalidArgumentError(f"prefix {exc}") from None


def check_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise InvalidArgumentError(f"limit must be an int, not {type(limit).__name__}")
    if not 1 <= limit <= MAX_DISCOVERY_LIMIT:
        raise InvalidArgumentError(f"limit must be between 1 and {MAX_DISCOVERY_LIMIT}")
    return limit


def check_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidArgumentError(f"{name} must be a non-empty string")
    try:
        return check_name_text(value)
    except ValueError as exc:
        raise InvalidArgumentError(f"{name} {exc}") from None


def check_batch(name: str, value: Any) -> list[Any]:
    """A batch argument as a list: any iterable but text, bytes and a single mapping (each of
    which iterates as something other than items)."""
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, Mapping)):
        raise InvalidArgumentError(
            f"{name} must be an iterable (such as a list), not {type(value).__name__}"
        )
    return value if isinstance(value, list) else list(value)


MAX_BATCH_SIZE = 1_000_000


def check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise InvalidArgumentError(f"batch_size must be an int, not {type(batch_size).__name__}")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise InvalidArgumentError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
    return batch_size
