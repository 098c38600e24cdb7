"""A thread's own client: one per thread and settings, and closed and forgotten on request."""

from __future__ import annotations

import threading

import clickhouse_connect

from xolap.clickhouse.client import close_thread_client, connect, thread_client


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


def test_a_thread_opens_its_client_while_another_thread_is_still_opening_its_own(ch_db, monkeypatch):
    """Once the engine is open, threads open their clients side by side: a fresh server's ~40 worker threads each
    open one on their first request, and queued one behind another they waited up to 4 s (clickhouse-connect runs
    ~10 ms of setup queries per client)."""
    _, settings = ch_db
    thread_client(settings)  # the engine is open in this process
    opening, release = threading.Event(), threading.Event()
    slow: list[threading.Thread] = []
    real_get_client = clickhouse_connect.get_client

    def get_client(*args, **kwargs):
        if slow and threading.current_thread() is slow[0]:
            opening.set()
            release.wait(30)
        return real_get_client(*args, **kwargs)

    monkeypatch.setattr(clickhouse_connect, "get_client", get_client)
    opened: list[object] = []
    slow.append(threading.Thread(target=lambda: opened.append(connect(settings))))
    fast = threading.Thread(target=lambda: opened.append(connect(settings)))
    try:
        slow[0].start()
        assert opening.wait(10)
        fast.start()
        fast.join(10)
        assert not fast.is_alive() and len(opened) == 1, "the second thread waited for the first one's client"
    finally:
        release.set()
        slow[0].join(30)
        fast.join(30)
    assert len(opened) == 2
    for client in opened:
        assert client.query("SELECT 1").result_rows == [(1,)]
        client.close()
