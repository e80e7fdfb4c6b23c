"""Marking instances that pydantic built without validating them, so the write path can tell.

``model_construct`` and ``model_copy(update=...)`` skip validation by design. Records made that
way are marked through the type of their ``__pydantic_fields_set__`` (which equality ignores and
every copy keeps), so a write re-validates exactly those and trusts the rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from typing_extensions import Self

_set = object.__setattr__


class UncheckedFields(set[str]):
    """The fields-set type of an instance that was not validated."""


class MarksUnchecked(BaseModel):
    """Base of the models the storages write: their unvalidated instances carry the mark."""

    @classmethod
    def model_construct(  # type: ignore[override]  # the pydantic plugin's own signature
        cls, _fields_set: set[str] | None = None, **values: Any
    ) -> Self:
        instance = super().model_construct(_fields_set, **values)
        _set(instance, "__pydantic_fields_set__", UncheckedFields(instance.model_fields_set))
        return instance

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        if update:
            _set(copied, "__pydantic_fields_set__", UncheckedFields(copied.model_fields_set))
        return copied


def is_unchecked(instance: BaseModel) -> bool:
    return type(instance.__pydantic_fields_set__) is UncheckedFields
