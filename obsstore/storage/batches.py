"""Preparing a write batch, the same way for points and spans: validate it whole, then keep
the first item of each key."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from itertools import repeat
from operator import attrgetter
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from obsstore.models._unchecked import UncheckedFields
from obsstore.storage.arguments import check_batch

_Model = TypeVar("_Model", bound=BaseModel)
_fields_set = attrgetter("__pydantic_fields_set__")


def _all_sound(batch: list[Any]) -> bool:
    return True


def validated_batch(
    items: Iterable[_Model | Mapping[str, Any]],
    model: type[_Model],
    adapter: TypeAdapter[list[_Model]],
    *,
    argument: str,
    looks_sound: Callable[[list[_Model]], bool] = _all_sound,
) -> list[_Model]:
    """Every item as a ``model``, validated before anything is written (errors carry the
    item's index and field); ``argument`` names the batch in the error when it is no batch.

    Instances of ``model`` are frozen and were valid when pydantic validated them, so they are
    not validated again (pydantic would rerun every after-validator), unless they were built
    without validation (marked, see ``MarksUnchecked``) or fail ``looks_sound``, a cheap check
    of what the storages rely on (finite numbers, UTC timestamps): then the whole batch is
    validated again from its items' values."""
    batch = check_batch(argument, items)
    if all(map(isinstance, batch, repeat(model))):
        result: list[_Model] = batch
    else:
        result = adapter.validate_python(batch)  # instances pass through it unvalidated
    if UncheckedFields not in set(map(type, map(_fields_set, result))) and looks_sound(result):
        return result
    return adapter.validate_python(
        [dict(item.__dict__) if isinstance(item, model) else item for item in batch]
    )


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
