"""Receivers: OTLP/HTTP into obsstore (``obsstore serve otlp``); Prometheus scraping lives in
``obsstore.prometheus``."""
