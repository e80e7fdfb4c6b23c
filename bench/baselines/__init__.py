"""What the raw drivers do on their own: one module per SQL backend, each with ``ingest`` (the
driver's fastest bulk path into the migrated table) and ``Queries`` (hand-written SQL for the
dashboard queries, through the same driver, returning the same rows obsstore returns)."""
