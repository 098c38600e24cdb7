"""Curated chart reads never JIT-compile: ClickHouse compiles an expression, aggregate function or sort once it has
run a few times in a process (40-250 ms in the answer that hits it), which made the first answers after a start the
slowest (executor.CATEGORY_SETTINGS turns compilation off for chart reads only)."""

from __future__ import annotations

from xolap.analytics.categories import event_summary, list_categories, run_category
from xolap.clickhouse import data_version

EVENTS = """
INSERT INTO {table} (section_id, project_id, user_id, timestamp, event_type, verb_id, page_id, activity_id,
    video_url, video_progress, scaled_score, success, completion, hints_requested, event_hash)
SELECT 7, 70, toString(number % 11), toDateTime64('2026-02-02 09:00:00', 3) + toIntervalHour(number * 5),
    ['page_viewed', 'activity_attempt', 'part_attempt', 'video'][number % 4 + 1],
    'http://adlnet.gov/expapi/verbs/completed', if(number % 4 = 0, number % 6, NULL),
    if(number % 4 IN (1, 2), number % 5, NULL), if(number % 4 = 3, concat('v', toString(number % 3)), NULL),
    if(number % 4 = 3, (number % 10) / 10, NULL), if(number % 4 IN (1, 2), (number % 10) / 10, NULL),
    if(number % 4 IN (1, 2), number % 2 = 0, NULL), if(number % 4 = 0, number % 3 = 0, NULL),
    if(number % 4 = 2, number % 3, NULL), concat('jit', toString(number))
FROM numbers(300)
"""
REPEATS = 4  # ClickHouse compiles on the 4th run (min_count_to_compile_* = 3 earlier runs)


def test_repeated_chart_reads_compile_nothing(ch_db):
    client, settings = ch_db
    client.command(EVENTS.format(table=f"`{settings.clickhouse_database}`.raw_events"))
    data_version.rows_written(settings.clickhouse_database)
    keys = [info.key for info in list_categories("section")]
    for _ in range(REPEATS):
        for key in keys:
            run_category(client, settings, key, scope="section", scope_id=7)
        event_summary(client, settings, "section", 7)
    client.command("SYSTEM FLUSH LOGS")
    rows = client.query(
        "SELECT extract(query, 'xolap:category[.]([a-z_]+)[.]') AS chart, count(), "
        "sum(ProfileEvents['CompileFunction']), groupUniqArray(Settings['compile_expressions']), "
        "groupUniqArray(Settings['compile_aggregate_expressions']), groupUniqArray(Settings['compile_sort_description']) "
        "FROM system.query_log WHERE type = 'QueryFinish' AND query LIKE '%xolap:category.%' "
        "AND query NOT LIKE '%FROM system.query_log%' AND has(databases, {db:String}) GROUP BY chart ORDER BY chart",
        parameters={"db": settings.clickhouse_database},
    ).result_rows
    seen = {chart: (runs, compiled, sent) for chart, runs, compiled, *sent in rows}
    assert set(seen) >= {*keys, "summary"}, sorted(seen)
    for chart, (runs, compiled, sent) in seen.items():
        assert runs >= REPEATS, chart
        assert compiled == 0, f"{chart}: {compiled} functions compiled"
        assert sent == [["0"], ["0"], ["0"]], (chart, sent)
