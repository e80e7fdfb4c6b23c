"""Preparing a write batch, the same way for points and spans: validate it whole, then keep
the first item of each key."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from itertools import repeat
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

_Model = TypeVar("_Model", bound=BaseModel)


def validated_batch(
    items: Iterable[_Model | Mapping[str, Any]],
    model: type[_Model],
    adapter: TypeAdapter[list[_Model]],
) -> list[_Model]:
    """Every item as a ``model``, validated before anything is written (errors carry the
    item's index and field). A batch of ``model`` instances, which are frozen and valid since
    construction, skips the adapter: pydantic would rerun every instance's after-validators."""
    batch = items if isinstance(items, list) else list(items)
    if all(map(isinstance, batch, repeat(model))):
        return batch  # type: ignore[return-value]
    return adapter.validate_python(batch)


def first_of_each_key(items: list[_Model], key: Callable[[_Model], Hashable]) -> list[_Model]:
    """The batch without later repeats of a key: the first write wins inside a batch too."""
    keys = list(map(key, items))
    if len(set(keys)) == len(keys):
        return items
    seen: set[Hashable] = set()
    return [
        item
        for item, k in zip(items, keys, strict=True)
        if not (k in seen or seen.add(k))  # type: ignore[func-returns-value]
    ]
