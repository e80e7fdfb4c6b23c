"""How long to wait before retrying a failed batch, which failures are expected outages, and
which ones mean the database rejects the records themselves."""

from __future__ import annotations

import random

import sqlalchemy as sa

from obsstore.errors import ObsstoreError, StorageUnavailableError

BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 30.0

# Outages a retry can outlast: obsstore's own typed error, and driver-level disconnects or pool
# timeouts that reached the writer without being translated.
_TRANSIENT = (
    StorageUnavailableError,
    sa.exc.OperationalError,
    sa.exc.DisconnectionError,
    sa.exc.TimeoutError,
    ConnectionError,
    TimeoutError,
)


def is_transient(error: BaseException) -> bool:
    # Also a driver's own OperationalError (PEP 249 names it so in every driver: lost
    # connections, lock and serialization conflicts, out of memory) that a bulk path raised
    # without SQLAlchemy wrapping it.
    return isinstance(error, _TRANSIENT) or any(
        cls.__name__ == "OperationalError" for cls in type(error).__mro__
    )


def is_rejection(error: BaseException) -> bool:
    """Whether a failed batch means the database refuses (some of) its records for good, so
    retrying them unchanged can never succeed: a constraint or data error from the driver, a
    ValidationError, a ValueError or TypeError. Retried instead: outages, and obsstore's own
    errors about the storage rather than its input (``SchemaError``: the schema is missing or
    too old, which ``alembic upgrade`` fixes; a closed storage), since an operator can fix
    those and the records then store unchanged."""
    if is_transient(error):
        return False
    return not isinstance(error, ObsstoreError) or isinstance(error, ValueError)


def backoff_delay(
    failures: int,
    rng: random.Random,
    *,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
) -> float:
    """Seconds to wait after ``failures`` consecutive failures: exponential, capped, with
    jitter over the upper half so writers that failed together do not retry together."""
    ceiling = min(cap, base * 2.0 ** min(max(failures, 1) - 1, 32))
    return ceiling / 2 + rng.uniform(0.0, ceiling / 2)
