"""``health()`` on SQL backends: one trivial query timed, the schema revision, two counts."""

from __future__ import annotations

import time
from abc import abstractmethod
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from obsstore import migrate
from obsstore.errors import ConfigurationError, StorageUnavailableError
from obsstore.models import Health
from obsstore.schema import metrics, spans


class SQLHealth:
    """SQLStorage supplies the engine, the URL and error translation."""

    kind: ClassVar[str]
    url: URL
    _serialize: Any

    @property
    @abstractmethod
    def engine(self) -> Engine: ...

    @abstractmethod
    def _translate_errors(self) -> AbstractContextManager[None]: ...

    def _health(self) -> Health:
        where = self.url.render_as_string(hide_password=True)
        engine = self.engine  # raises ObsstoreError once closed, like every call
        found: dict[str, Any] = {"backend": self.kind, "url": where}
        found["head_revision"] = migrate.head_revision()
        try:
            with self._translate_errors(), self._serialize or nullcontext():
                started = time.perf_counter()
                with engine.connect() as connection:
                    connection.execute(sa.select(sa.literal(1))).scalar_one()
                    found["latency_ms"] = (time.perf_counter() - started) * 1000
                    found["reachable"] = True
                    revision = migrate.current_revision(connection)
                    found["schema_revision"] = revision
                    if revision is not None:
                        for key, table in (("points", metrics), ("spans", spans)):
                            count = sa.select(sa.func.count()).select_from(table)
                            found[key] = int(connection.execute(count).scalar_one())
        except (StorageUnavailableError, ConfigurationError) as error:
            if "reachable" in found:  # it answered, then failed: that is no health report
                raise
            return Health(**found, reachable=False, error=str(error))
        return Health(**found)
