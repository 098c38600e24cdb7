"""Health summary: server, tables, ingest freshness, query_log latency and errors, merges, sample queries, extra hook."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from xolap.analytics.executor import QueryError, run
from xolap.analytics.health import health_summary, sample_queries


def insert_events(client, settings, count: int) -> None:
    rows = [[7, 70, f"learner-{i}", datetime(2026, 5, 1, 12, i % 60, tzinfo=timezone.utc), "page_viewed", "v", i,
             f"hash-{i}"] for i in range(count)]
    client.insert(f"`{settings.clickhouse_database}`.raw_events", rows,
                  column_names=["section_id", "project_id", "user_id", "timestamp", "event_type", "verb_id", "page_id",
                                "event_hash"])


def test_query_log_is_enabled_by_our_chdb_config(ch_db):
    client, _settings = ch_db
    client.query("SELECT 42")
    client.command("SYSTEM FLUSH LOGS")
    assert client.query("SELECT count() FROM system.query_log WHERE type = 'QueryFinish'").result_rows[0][0] > 0


def test_summary_fields_are_present_and_sane(ch_db):
    client, settings = ch_db
    insert_events(client, settings, 25)
    summary = health_summary(client, settings)
    ch = summary["clickhouse"]
    assert ch["version"].count(".") >= 2 and ch["uptime_seconds"] >= 0 and ch["timezone"]
    assert ch["embedded"] is True and ch["database"] == settings.clickhouse_database
    tables = {t["name"]: t for t in summary["tables"]}
    assert {"raw_events", "content_titles", "ingest_errors", "schema_migrations"} <= set(tables)
    assert tables["raw_events"]["rows"] == 25 and tables["raw_events"]["bytes_on_disk"] > 0
    assert tables["raw_events"]["active_parts"] >= 1 and tables["raw_events"]["last_change"]
    assert tables["ingest_errors"]["rows"] == 0 and tables["ingest_errors"]["active_parts"] == 0
    ingest = summary["ingest"]
    assert ingest["stored_rows"] == 25 and ingest["latest_event"].startswith("2026-05-01T12:24")
    assert ingest["latest_insert"] and 0 <= ingest["seconds_since_insert"] < 600
    assert ingest["rejected_lines_24h"] == 0
    assert summary["merges"] == {"running": [], "pending_mutations": []}
    assert len(summary["sample_queries"]) >= 5
    assert "learner-" not in repr(summary)  # health never carries learner data


def test_empty_database_has_no_freshness(ch_db):
    client, settings = ch_db
    ingest = health_summary(client, settings)["ingest"]
    assert ingest == {"stored_rows": 0, "latest_event": None, "latest_insert": None, "seconds_since_insert": None,
                      "rejected_lines_24h": 0}


def test_query_latency_and_errors_come_from_query_log(ch_db):
    client, settings = ch_db
    insert_events(client, settings, 5)
    for _ in range(3):
        run(client, settings, f"SELECT count() FROM `{settings.clickhouse_database}`.raw_events", tag="test.latency")
    with pytest.raises(QueryError):
        run(client, settings, f"SELECT no_such_column FROM `{settings.clickhouse_database}`.raw_events")
    queries = health_summary(client, settings)["queries"]
    assert queries["available"] is True and queries["logs_flushed"] is True
    assert queries["finished"] >= 3
    assert queries["p50_ms"] is not None and 0 <= queries["p50_ms"] <= queries["p95_ms"] <= queries["max_ms"]
    assert queries["errors"] >= 1
    assert any(code["name"] == "UNKNOWN_IDENTIFIER" for code in queries["error_codes"])
    tags = {t["tag"]: t for t in queries["by_tag"]}
    assert tags["test.latency"]["finished"] >= 3
    assert not any(tag.startswith("health.") for tag in tags)  # its own queries are left out


def test_extra_sections_are_merged_and_cannot_shadow(ch_db):
    client, settings = ch_db
    summary = health_summary(client, settings, extra={"postgres": {"ok": True}, "jobs": {"queued": 2}})
    assert summary["postgres"] == {"ok": True} and summary["jobs"] == {"queued": 2}
    with pytest.raises(ValueError, match="reserved key.*tables"):
        health_summary(client, settings, extra={"tables": []})


def test_every_sample_query_runs_read_only(ch_db):
    client, settings = ch_db
    insert_events(client, settings, 3)
    for sample in sample_queries(settings):
        assert sample.title and sample.description
        run(client, settings, sample.sql, readonly=True)


def test_monitoring_queries_are_not_counted(ch_db):
    client, settings = ch_db
    first = health_summary(client, settings)["queries"]
    second = health_summary(client, settings)["queries"]
    assert second["finished"] == first["finished"]  # only health's own queries ran in between
