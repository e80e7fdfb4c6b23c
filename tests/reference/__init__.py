"""A plain, unoptimised model of the whole storage contract, for the differential tests.

Every backend (memory included) is compared with this model, so the optimised backends are
tested rather than trusted. The public methods of ``ObservabilityStorage`` validate the
arguments as for every backend; the model implements only the storage semantics, in the most
obvious way: lists of records and loops over them."""

from __future__ import annotations

from obsstore.capabilities import Capabilities, StrategyInfo
from obsstore.models import Health
from obsstore.storage.base import ObservabilityStorage
from tests.reference.metrics import ReferenceMetrics
from tests.reference.rollups import NoRollups
from tests.reference.traces import ReferenceTraces


class ReferenceStorage(ReferenceMetrics, ReferenceTraces, NoRollups, ObservabilityStorage):
    kind = "reference"
    capabilities = Capabilities(
        metrics_strategy=StrategyInfo("realtime", ("realtime",)),
        tracing_strategy=StrategyInfo("realtime", ("realtime",)),
        durable=False,
        multi_process=False,
    )

    def __init__(self) -> None:
        ReferenceMetrics.__init__(self)
        ReferenceTraces.__init__(self)

    def init(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _health(self) -> Health:
        return Health(
            backend=self.kind,
            url="reference://",
            reachable=True,
            latency_ms=0.0,
            points=len(self.points),
            spans=len(self.spans),
        )

    def dangerously_clear_all(self) -> None:
        self.points = []
        self.spans = []


__all__ = ["ReferenceStorage"]
