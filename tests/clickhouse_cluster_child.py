"""Cluster mode on real Distributed tables, in chdb: ``python -m tests.clickhouse_cluster_child
DIR`` prints ``routed N`` and ``done``.

chdb (a process of its own: it opens one directory per process) gets a ``remote_servers``
config naming a cluster ``main`` of one shard on ``localhost``, with ``tcp_port`` set so that
the shard counts as this process (nothing listens there). The schema is cluster mode's own
Alembic DDL with the two parts chdb cannot run changed: its ``ReplicatedMergeTree`` tables
(they stay read-only without a running Keeper) become ``MergeTree``, and ``ON CLUSTER`` goes
(chdb has no distributed DDL worker). So ``<table>`` is a real ``Distributed`` table over
``<table>_local``: the storage, in cluster mode, reads and inserts through it, and runs its
mutations on the local tables, with only their ``ON CLUSTER`` clause dropped on the way."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client
from sqlalchemy.engine import URL

from obsstore import create_storage
from obsstore.storage import clickhouse
from tests.test_clickhouse import SERVER, offline_upgrade
from tests.test_clickhouse_cluster_mutations import CLUSTER, ROUTED, every_mutation

CONFIG = """<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers><main><shard><replica>
    <host>localhost</host><port>9000</port>
  </replica></shard></main></remote_servers>
</clickhouse>
"""
ON_CLUSTER = f" ON CLUSTER `{CLUSTER}`"
REPLICATED = re.compile(r"ReplicatedMergeTree\('[^']*', '[^']*'\)")


def one_node(statement: str) -> str:
    return REPLICATED.sub("MergeTree", statement.replace(ON_CLUSTER, ""))


def main(directory: Path) -> None:
    config = directory / "config.xml"
    config.write_text(CONFIG)
    path = clickhouse._embedded_path

    def configured(url: URL) -> str:
        return f"file:{path(url)}?config-file={config}"  # chdb passes the options to its engine

    clickhouse._embedded_path = configured
    clickhouse.SESSION_SETTINGS |= clickhouse.CLUSTER_SESSION_SETTINGS
    storage = create_storage(f"chdb:///{directory / 'db'}?database=telemetry")
    assert isinstance(storage, clickhouse.ClickHouseStorage)
    with storage.engine.connect() as connection:
        for statement in offline_upgrade(f"{SERVER}?cluster={CLUSTER}"):
            connection.exec_driver_sql(one_node(statement))  # obsstore's own DDL
        engines = dict(
            connection.exec_driver_sql(
                "SELECT name, engine FROM system.tables WHERE database = currentDatabase()"
            ).all()
        )
    assert engines["obsstore_metrics"] == "Distributed", engines
    assert engines["obsstore_metrics_local"] == "MergeTree", engines
    storage.init()  # the schema is at head: nothing to do
    storage.engine.dialect.obsstore_cluster = CLUSTER  # type: ignore[attr-defined]
    routed: list[str] = []

    def on_this_node(original: Callable[..., Any]) -> Callable[..., Any]:
        def send(client: Client, sql: Any = None, *args: Any, **kwargs: Any) -> Any:
            text = str(sql)
            if ROUTED.match(text):
                routed.append(text)
                text = text.replace(ON_CLUSTER, "", 1)
            return original(client, text, *args, **kwargs)

        return send

    Client.query = on_this_node(Client.query)  # type: ignore[method-assign]
    Client.command = on_this_node(Client.command)  # type: ignore[method-assign]
    every_mutation(storage)
    storage.close()
    print("routed", len(routed), flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
