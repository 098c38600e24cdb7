"""A thread's own client: one per thread and settings, and closed and forgotten on request."""

from __future__ import annotations

import threading

from xolap.clickhouse.client import close_thread_client, thread_client


def test_a_thread_keeps_one_client_until_it_closes_it(ch_db):
    _, settings = ch_db
    first = thread_client(settings)
    assert thread_client(settings) is first
    others: list[object] = []
    worker = threading.Thread(target=lambda: others.append(thread_client(settings)))
    worker.start()
    worker.join(10)
    assert others and others[0] is not first, "another thread gets its own client"
    close_thread_client(settings)
    fresh = thread_client(settings)
    assert fresh is not first and fresh.query("SELECT 1").result_rows == [(1,)]
    close_thread_client(settings)
    close_thread_client(settings)  # nothing left to close: no error
