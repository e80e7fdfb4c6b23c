"""The exception hierarchy. Bad record or query input raises pydantic's ``ValidationError``
(re-exported as ``obsstore.ValidationError``); everything else obsstore raises derives from
:class:`ObsstoreError`."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = [
    "ConfigurationError",
    "InvalidArgumentError",
    "NotFoundError",
    "ObsstoreError",
    "SchemaError",
    "StorageUnavailableError",
    "ValidationError",
]


class ObsstoreError(Exception):
    """Base class of every error obsstore raises itself."""


class ConfigurationError(ObsstoreError, ValueError):
    """A setting (environment variable or argument) is missing, unknown or contradictory.

    The message names the setting and the values it accepts."""


class InvalidArgumentError(ObsstoreError, ValueError):
    """A call's arguments are well-formed but not allowed (for example deleting without filters)."""


class StorageUnavailableError(ObsstoreError):
    """The database cannot be reached or is locked right now; the call may succeed if retried."""


class SchemaError(ObsstoreError):
    """The database schema is not at a revision this version of obsstore can use."""


class NotFoundError(ObsstoreError, LookupError):
    """An operation named rows that do not exist; ``missing`` lists their keys."""

    def __init__(self, message: str, missing: list[tuple[str, ...]] | None = None) -> None:
        super().__init__(message)
        self.missing = missing or []
