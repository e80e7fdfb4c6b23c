"""One storage shared by several threads: every point is stored exactly once."""

from __future__ import annotations

import threading

from obsstore import MetricsStorage
from tests.contract.helpers import point


def test_threads_writing_and_reading_at_once(storage: MetricsStorage) -> None:
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            for batch in range(20):
                ids = [f"t{thread}-b{batch}-{i}" for i in range(25)]
                storage.batch_record_metrics([point(i, value=thread) for i in ids])
                # Overlapping retries from another thread must not duplicate.
                storage.batch_record_metrics([point(f"t{(thread + 1) % 4}-b{batch}-0")])
                storage.count_metrics()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert storage.count_metrics() == 4 * 20 * 25
