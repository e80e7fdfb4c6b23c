"""OpenTelemetry into obsstore: exporters for the Python SDK (``pip install 'obsstore[otel]'``).

```python
from obsstore.otel import ObsstoreMetricExporter, ObsstoreSpanExporter
```"""

from __future__ import annotations

from obsstore.otel.sdk import ObsstoreMetricExporter, ObsstoreSpanExporter

__all__ = ["ObsstoreMetricExporter", "ObsstoreSpanExporter"]
