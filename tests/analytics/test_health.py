"""Health summary: server, tables, ingest freshness, query_log latency and errors, merges, sample queries, extra hook."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from xolap.analytics.executor import QueryError, run
from xolap.analytics.health import health_summary, sample_queries


def insert_events(client, settings, count: int) -> None:
    rows = [
        [7, 70, f"learner-{i}", datetime(2026, 5, 1, 12, i % 60, tzinfo=UTC), "page_viewed", "v", i, f"hash-{i}"]
        for i in range(count)
    ]
    client.insert(
        f"`{settings.clickhouse_database}`.raw_events",
        rows,
        column_names=[
            "section_id",
            "project_id",
            "user_id",
            "timestamp",
            "event_type",
            "verb_id",
            "page_id",
            "event_hash",
        ],
    )


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
    assert ingest == {
        "stored_rows": 0,
        "latest_event": None,
        "latest_insert": None,
        "seconds_since_insert": None,
        "rejected_lines_24h": 0,
    }


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
    """Samples over the warehouse's tables run as the admin SQL console runs them (guard, admin scope, read-only);
    the ones over system tables, which that guard refuses, run read-only as written."""
    from xolap.analytics.custom_sql import run_custom_sql
    from xolap.analytics.guard import GuardError, guard

    client, settings = ch_db
    insert_events(client, settings, 3)
    through_console = 0
    for sample in sample_queries(settings):
        assert sample.title and sample.description
        try:
            guard(sample.sql, scope="admin", database=settings.clickhouse_database)
        except GuardError:
            assert "system." in sample.sql, sample.title
            run(client, settings, sample.sql, readonly=True)
            continue
        run_custom_sql(client, settings, sample.sql, scope="admin", scope_id=None)
        through_console += 1
    assert through_console >= 5


def test_monitoring_queries_are_not_counted(ch_db):
    client, settings = ch_db
    first = health_summary(client, settings)["queries"]
    second = health_summary(client, settings)["queries"]
    assert second["finished"] == first["finished"]  # only health's own queries ran in between


# --- components (xolap.component_status, component_health) ---------------------------------------------------------


def test_component_board_logs_one_line_per_state_change(caplog):
    import logging

    from xolap.component_status import ComponentBoard

    board = ComponentBoard()
    caplog.set_level(logging.INFO, logger="xolap.health")
    board.report("s3", True)
    for n in range(5):  # five failed probes while down: one line
        board.report("s3", False, ConnectionError(f"refused #{n}"))
    board.report("s3", True)
    board.report("s3", True)
    wrapped = RuntimeError()
    wrapped.__cause__ = OSError("connection to server failed")
    board.report("job_worker", False, wrapped)  # an exception without text: its cause is the reason
    board.report("etl_worker", False, "")
    lines = [r.getMessage() for r in caplog.records if r.name == "xolap.health"]
    assert lines == [
        "S3 is down: ConnectionError: refused #0",
        "S3 is back up",
        "job worker is down: OSError: connection to server failed",
        "ETL worker is down: unknown error",
    ]
    s3 = board.get("s3")
    assert s3.ok is True and s3.last_error == "ConnectionError: refused #4"


def test_health_and_console_name_a_down_component_with_its_error(runtime):
    import socket

    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from xolap.runtime import Runtime
    from xolap.web.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    settings = runtime.settings.model_copy(
        update={
            "s3_endpoint_url": f"http://127.0.0.1:{port}",
            "aws_access_key_id": "k",
            "aws_secret_access_key": SecretStr("s"),
        }
    )
    client = TestClient(create_app(Runtime(settings)))
    anonymous = client.get("/healthz")
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ok"}  # S3 degrades, it is not down
    admin = {"Authorization": f"Bearer {runtime.admin_token}"}
    body = client.get("/healthz", headers=admin).json()
    assert body["status"] == "degraded" and body["down"] == ["s3"]
    assert body["components"]["s3"]["ok"] is False and "Could not connect" in body["components"]["s3"]["last_error"]
    assert body["components"]["clickhouse"]["ok"] and body["components"]["postgres"]["ok"]
    from xolap.web.negotiation import templates
    from xolap.web.pages_admin import console_data

    data = console_data(Runtime(settings))
    assert data["components_status"] == "degraded" and data["components"]["s3"]["ok"] is False
    html = templates().env.get_template("admin/clickhouse.html").render(data=data, request=None)
    section = html[html.index('id="components"') :]
    assert "S3" in section and "down" in section and "Could not connect" in section


def test_s3_not_configured_is_not_reported_from_an_earlier_configuration(runtime):
    """A runtime without S3 never shows S3 as down because another configuration in this process once saw it down."""
    from xolap.analytics.health import component_health
    from xolap.component_status import board

    board.report("s3", False, ConnectionError("refused"))
    settings = runtime.settings.model_copy(update={"s3_endpoint_url": None, "aws_access_key_id": None})
    runtime.settings = settings
    health = component_health(runtime)
    assert "s3" not in health["components"] and health["status"] == "ok", health
