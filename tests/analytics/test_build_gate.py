"""Rollup builds through the build gate (xolap.analytics.build_gate): at most `slots` at once, a freed slot to the
smallest waiting build (the longest-waiting once it has waited max_wait_s); a reader's build waits for a slot and
then answers as the raw FINAL read does. Threads synchronise on the gate's own counts, never on sleeps."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from support import RecordingClient
from xolap.analytics import build_gate, rollups
from xolap.analytics.build_gate import BuildGate
from xolap.analytics.categories import event_summary, run_category
from xolap.analytics.categories.registry import _context, event_summary_raw_sql, json_value
from xolap.analytics.categories.sql import parameters
from xolap.analytics.executor import run
from xolap.clickhouse.client import thread_client

sys.path.insert(0, str(Path(__file__).parent))
from test_rollups import same  # noqa: E402 - the rollup-vs-raw comparison (counts exact, averages to their last digit)

TIMEOUT_S = 60


def until(condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def queue_behind_a_held_slot(gate: BuildGate, sizes: list[int]) -> tuple[list[int], list[threading.Thread]]:
    """Threads asking for a slot with these sizes, one after another, each waiting before the next asks; returns the
    list their sizes are appended to as they get the slot, and the threads."""
    got: list[int] = []
    threads = []
    for size in sizes:
        thread = threading.Thread(target=lambda s=size: _take(gate, s, got))
        thread.start()
        threads.append(thread)
        until(lambda n=len(threads): gate.waiting() == n, "a build did not queue")
    return got, threads


def _take(gate: BuildGate, size: int, got: list[int]) -> None:
    with gate.slot(size):
        got.append(size)


def test_a_freed_slot_goes_to_the_smallest_waiting_build():
    gate = BuildGate(1)
    with gate.slot(1):
        got, threads = queue_behind_a_held_slot(gate, [500_000, 30_000, 120_000, 30_000, 9_000])
        assert got == []  # nobody builds while the only slot is held
    for thread in threads:
        thread.join(TIMEOUT_S)
    assert got == [9_000, 30_000, 30_000, 120_000, 500_000]


def test_a_build_that_waited_long_enough_goes_before_smaller_ones():
    gate = BuildGate(1, max_wait_s=0.0)  # every waiter counts as aged: arrival order
    with gate.slot(1):
        got, threads = queue_behind_a_held_slot(gate, [500_000, 30_000, 9_000])
    for thread in threads:
        thread.join(TIMEOUT_S)
    assert got == [500_000, 30_000, 9_000]


def test_no_more_builds_than_slots_run_at_once():
    gate = BuildGate(2)
    running, most, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def build(size: int) -> None:
        with gate.slot(size):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            release.wait(TIMEOUT_S)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=build, args=(n,)) for n in range(7)]
    for thread in threads:
        thread.start()
    until(lambda: gate.waiting() == 5, "five builds did not queue behind two")
    assert running[0] == 2
    release.set()
    for thread in threads:
        thread.join(TIMEOUT_S)
    assert most[0] == 2 and gate.waiting() == 0
    with gate.slot(1):  # every slot was given back
        with gate.slot(1):
            pass
    with pytest.raises(ValueError):
        BuildGate(0)


def test_a_build_that_waited_overflow_s_runs_beside_a_stuck_holder():
    gate = BuildGate(1, overflow_s=0.05)
    got: list[int] = []
    with gate.slot(1):  # a build that never ends, as far as the waiter can tell
        waiter = threading.Thread(target=_take, args=(gate, 7, got))
        waiter.start()
        waiter.join(TIMEOUT_S)
        assert got == [7] and gate.waiting() == 0
    with gate.slot(1):  # both slots' worth was given back: the gate is free again
        pass


GENERATE = """
INSERT INTO `{db}`.raw_events (section_id, project_id, user_id, timestamp, event_type, verb_id, event_hash)
SELECT 4, 40, concat('u', toString(number % 13)),
    toDateTime64('2026-01-10 00:00:00', 3) + toIntervalSecond((number * 7919) % (75 * 86400)),
    ['page_viewed', 'part_attempt', 'video'][number % 3 + 1], 'v', concat('s4-', toString(number))
FROM numbers(500)
"""


def test_a_readers_build_waits_for_a_slot_then_answers_as_the_raw_read(ch_db, monkeypatch):
    client, settings = ch_db
    db = settings.clickhouse_database
    client.command(GENERATE.format(db=db))
    gate = BuildGate(1)
    monkeypatch.setattr(build_gate, "builds", gate)
    built: list[list[int]] = []
    reader = threading.Thread(
        target=lambda: built.append(rollups.current_builds(thread_client(settings), db, "section", 4))
    )
    with gate.slot(1):
        reader.start()
        until(lambda: gate.waiting() == 1, "the reader's build did not wait for the gate")
        assert built == []
    reader.join(TIMEOUT_S)
    assert len(built) == 1 and built[0]
    ctx = _context(settings, "section", 4, None, None)
    raw = run(client, settings, event_summary_raw_sql(ctx), parameters=parameters(ctx, 4))
    expected = [dict(zip(raw.columns, map(json_value, row), strict=True)) for row in raw.rows]
    answer = event_summary(client, settings, "section", 4)
    assert [{k: v for k, v in row.items() if k != "label"} for row in answer] == expected
    assert sum(row["events"] for row in expected) == 500


def slices_of(client, db: str, section: int) -> int:
    return client.query(
        f"SELECT count() FROM `{db}`.rollup_slices WHERE scope_kind = 'section' AND scope_id = {{i:UInt64}}",
        parameters={"i": section},
    ).result_rows[0][0]


def test_a_summary_asked_while_builds_wait_answers_from_the_raw_events_without_waiting(ch_db, monkeypatch):
    client, settings = ch_db
    db = settings.clickhouse_database
    client.command(GENERATE.format(db=db))
    gate = BuildGate(1)
    monkeypatch.setattr(build_gate, "builds", gate)
    ctx = _context(settings, "section", 4, None, None)
    raw = run(client, settings, event_summary_raw_sql(ctx), parameters=parameters(ctx, 4))
    expected = [dict(zip(raw.columns, map(json_value, row), strict=True)) for row in raw.rows]

    def summary(reader) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "label"} for row in event_summary(reader, settings, "section", 4)]

    answers: list[list[dict]] = []
    with gate.slot(1):  # every slot taken: a build now would wait
        reader = threading.Thread(target=lambda: answers.append(summary(thread_client(settings))))
        reader.start()
        reader.join(TIMEOUT_S)
        assert answers == [expected], "the summary waited for a build slot"
        assert slices_of(client, db, 4) == 0  # nothing was built for it
    assert summary(client) == expected and slices_of(client, db, 4) > 0  # a free gate: the reader builds
    with gate.slot(1):  # built now: the summary reads its rollup even while builds wait
        recording = RecordingClient(client)
        assert summary(recording) == expected
        assert any("rollup_events_" in sql for sql in recording.statements), recording.statements
        assert not any("raw_events" in sql for sql in recording.statements), recording.statements


def test_a_large_build_waits_behind_a_bounded_number_of_smaller_ones_that_keep_arriving():
    gate = BuildGate(1, max_wait_s=3600.0)  # the age rule out of reach: only the passing bound can serve it
    got: list[int] = []
    done: dict[int, threading.Event] = {}

    def build(size: int) -> None:
        with gate.slot(size):
            got.append(size)
            done[size].wait(TIMEOUT_S)

    def ask(size: int) -> threading.Thread:
        done[size] = threading.Event()
        thread = threading.Thread(target=build, args=(size,))
        waiting = gate.waiting()
        thread.start()
        until(lambda: gate.waiting() == waiting + 1 or size in got, "a build did not ask for the slot")
        return thread

    threads = [ask(1)]  # the holder
    threads.append(ask(500_000))  # the large scope's build queues behind it
    small = 2
    for _ in range(3 * build_gate.MAX_PASSES):  # a smaller build keeps arriving before every handover
        threads.append(ask(small))
        holder = got[-1]
        done[holder].set()
        until(lambda h=holder: got[-1] != h, "the slot was not handed over")
        if got[-1] == 500_000:
            break
        small += 1
    assert got[-1] == 500_000, got
    assert len(got) - 2 <= build_gate.MAX_PASSES, got  # at most MAX_PASSES smaller builds went first
    for event in done.values():
        event.set()
    for thread in threads:
        thread.join(TIMEOUT_S)
    assert gate.waiting() == 0


def test_a_slot_asked_without_waiting_is_taken_only_when_one_is_free():
    gate = BuildGate(1)
    with gate.slot(1, wait=False) as first:
        assert first
        with gate.slot(1, wait=False) as second:  # every slot taken: no wait, no slot
            assert not second
        assert gate.waiting() == 0
    with gate.slot(1, wait=False) as again:  # the slot was given back, the refused ask took none
        assert again


def raw_reader_answers(settings, keys, scope_id: int) -> dict:
    """Each category's rows as a reader on its own thread answers them (fails the test if the answer waits)."""
    answers: dict = {}

    def read() -> None:
        reader = thread_client(settings)
        for key in keys:
            answers[key] = run_category(reader, settings, key, scope="section", scope_id=scope_id).rows

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(TIMEOUT_S / 3)
    assert not thread.is_alive(), "a tab waited for a build slot"
    return answers


TABS = ("video", "assessment", "engagement", "performance", "cross_event", "learners_at_risk", "weekday_hour")
TABS += ("hints_success", "course_progress")


def test_a_tab_asked_while_every_slot_is_held_answers_from_the_raw_events_without_waiting(ch_db, monkeypatch):
    client, settings = ch_db
    db = settings.clickhouse_database
    client.command(GENERATE.format(db=db))
    gate = BuildGate(1)
    monkeypatch.setattr(build_gate, "builds", gate)
    with gate.slot(1):  # every slot taken: a build now would wait
        answers = raw_reader_answers(settings, TABS, 4)
        assert slices_of(client, db, 4) == 0  # nothing was built for them
    for key in TABS:  # a free gate: the reader builds and reads the rollups; the numbers are the same
        same(run_category(client, settings, key, scope="section", scope_id=4).rows, answers[key])
    assert slices_of(client, db, 4) > 0
    assert sum(row["events"] for row in answers["cross_event"]) == 500


def test_a_tab_asked_while_its_scope_waits_to_be_built_elsewhere_does_not_wait_for_it(ch_db, monkeypatch):
    client, settings = ch_db
    db = settings.clickhouse_database
    client.command(GENERATE.format(db=db))
    monkeypatch.setattr(build_gate, "builds", BuildGate(1))
    with rollups._lock(db, "section", 4):  # another builder of the scope (the worker, say) waits for the gate
        answers = raw_reader_answers(settings, ("video", "learners_at_risk"), 4)
    for key, rows in answers.items():
        same(run_category(client, settings, key, scope="section", scope_id=4).rows, rows)


def test_a_scope_queued_again_keeps_its_place(base_settings):
    from xolap.analytics import rollup_maintenance

    worker = rollup_maintenance.RollupMaintenance(base_settings, lambda: None)  # not started: no thread, no client
    worker.expect([("section", 1), ("section", 2)])
    worker.expect([("section", 1)])  # a reader answering from the raw events queues its scope on every read
    worker.expect([("section", 3)])
    assert list(worker._expected) == [("section", 1), ("section", 2), ("section", 3)]


def test_a_serving_process_s_tab_of_a_scope_not_built_answers_raw_and_its_worker_builds_it(ch_db, monkeypatch):
    from xolap.analytics import rollup_maintenance

    client, settings = ch_db
    db = settings.clickhouse_database
    client.command(GENERATE.format(db=db))
    worker = rollup_maintenance.RollupMaintenance(settings, lambda: thread_client(settings))
    monkeypatch.setattr(rollup_maintenance, "_workers", [worker])  # a serving process's worker, its loop not running
    recording = RecordingClient(client)  # the gate is free: still no build by the reader
    first = run_category(recording, settings, "learners_at_risk", scope="section", scope_id=4).rows
    assert not any(sql.lstrip().upper().startswith(("INSERT", "CREATE")) for sql in recording.statements)
    assert "raw_events" in recording.statements[-1] and slices_of(client, db, 4) == 0
    assert worker.check_expected() == 1 and slices_of(client, db, 4) > 0  # the worker builds the queued scope
    recording = RecordingClient(client)
    same(run_category(recording, settings, "learners_at_risk", scope="section", scope_id=4).rows, first)
    assert "rollup_" in recording.statements[-1], recording.statements[-1]
