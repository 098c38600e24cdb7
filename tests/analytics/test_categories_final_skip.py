"""Evidence for READ_SETTINGS: skipping granules by the project_id index under FINAL without exact mode counts the
same events, even with unmerged duplicates, because every copy of an event carries the same project_id."""

from __future__ import annotations

from xolap.clickhouse.events import READ_SETTINGS, scoped_events


def test_project_skip_index_without_exact_mode_counts_the_same(ch_db):
    client, settings = ch_db
    table = f"`{settings.clickhouse_database}`.raw_events"
    client.command(f"SYSTEM STOP MERGES {table}")
    generate = (
        f"INSERT INTO {table} (section_id, project_id, user_id, timestamp, event_type, verb_id, event_hash) "
        "SELECT intDiv(number, 10000) AS s, 1 + s % 4, toString(number % 97), "
        "toDateTime64('2026-03-01 00:00:00', 3) + number, 'page_viewed', 'v', toString(number) FROM numbers({range})"
    )
    client.command(generate.replace("{range}", "60000"))
    client.command(generate.replace("{range}", "20000, 15000"))  # re-ingested copies, in a second part
    sql = f"SELECT count(), uniqExact(event_hash) FROM {scoped_events(settings.clickhouse_database, 'project')} AS e"
    exact = {**READ_SETTINGS, "use_skip_indexes_if_final_exact_mode": 1}
    skipping = {**READ_SETTINGS, "use_skip_indexes_if_final_exact_mode": 0}
    for project in range(1, 5):
        parameters = {"xolap_scope_id": project}
        expected = client.query(sql, parameters=parameters, settings=exact).result_rows[0]
        assert expected[0] == expected[1] > 0  # FINAL counted each event once
        assert client.query(sql, parameters=parameters, settings=skipping).result_rows[0] == expected
    plan = "\n".join(
        row[0]
        for row in client.query(
            f"EXPLAIN indexes = 1 {sql}", parameters={"xolap_scope_id": 3}, settings=skipping
        ).result_rows
    )
    skip = plan.split("idx_project_id", 1)[1]
    kept, total = (int(n) for n in skip.split("Granules: ", 1)[1].split()[0].split("/"))
    assert kept < total  # the index really skipped granules in this test
