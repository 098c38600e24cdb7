"""`xolap ch readonly-user --sql`: the printed DDL parses as ClickHouse SQL, grants only the exposed tables, keeps the
profile read-only, and caps every executor limit so it can be lowered but not raised or lifted."""

from __future__ import annotations

import dataclasses
import re

import pytest
from typer.testing import CliRunner

from xolap.analytics.executor import Limits
from xolap.analytics.readonly_user import PASSWORD_PLACEHOLDER, plan_from_settings, readonly_user_ddl, render_script
from xolap.config import get_settings, load_settings


def statements(script: str) -> list[str]:
    body = "\n".join(line for line in script.splitlines() if not line.startswith("--"))
    return [part.strip() for part in body.split(";") if part.strip()]


def formatted(client, sql: str) -> str:
    """ClickHouse's own parser: formatQuery raises on anything that is not valid SQL."""
    return client.query("SELECT formatQuery({q:String})", parameters={"q": sql}).result_rows[0][0]


@pytest.fixture()
def settings(base_settings):
    return base_settings.model_copy(
        update={
            "clickhouse_database": "analytics",
            "query_max_execution_time": 20,
            "query_max_memory_usage": 3 * 1024**3,
            "query_max_range_elements": 500_000,
        }
    )


def test_every_statement_parses_in_clickhouse(ch_engine, settings):
    script = render_script(plan_from_settings(settings, password="it's \\ secret"))
    parsed = [formatted(ch_engine, sql) for sql in statements(script)]
    assert [sql.split(" ")[0:2] for sql in parsed] == [
        ["CREATE", "SETTINGS"],
        ["CREATE", "USER"],
        ["GRANT", "SELECT"],
        ["GRANT", "SELECT"],
        ["GRANT", "SELECT(database,"],
        ["GRANT", "SELECT(name,"],
    ]
    assert "it\\'s \\\\ secret" in parsed[1]


def test_grants_only_select_on_the_exposed_tables(settings):
    ddl = readonly_user_ddl(plan_from_settings(settings))
    grants = [sql for sql in ddl if sql.startswith("GRANT")]
    assert grants == [
        "GRANT SELECT ON analytics.raw_events TO xolap_readonly",
        "GRANT SELECT ON analytics.content_titles TO xolap_readonly",
        "GRANT SELECT(database, name) ON system.tables TO xolap_readonly",
        "GRANT SELECT(name, allow_readonly) ON system.table_functions TO xolap_readonly",
    ]
    assert not any("ingest_errors" in sql or "*" in sql or "TEMPORARY" in sql for sql in ddl)
    with_errors = readonly_user_ddl(plan_from_settings(settings, include_ingest_errors=True))
    assert "GRANT SELECT ON analytics.ingest_errors TO xolap_readonly" in with_errors


def test_profile_is_readonly_and_caps_every_limit_the_executor_sends(ch_engine, settings):
    profile = readonly_user_ddl(plan_from_settings(settings))[0]
    items = dict(re.findall(r"^\s+(\w+)(.*?),?$", profile, re.M))
    assert items["readonly"] == " = 1"
    limits = Limits.from_settings(settings)
    sent = limits.query_settings()
    for name in (
        "max_execution_time",
        "max_result_rows",
        "max_rows_to_read",
        "max_bytes_to_read",
        "max_memory_usage",
        "function_range_max_elements_in_block",
        "function_sleep_max_microseconds_per_block",
    ):
        value = {"max_memory_usage": limits.max_memory_usage}.get(name, sent[name])
        shown = str(int(value)) if float(value).is_integer() else repr(value)
        low = "0.1" if name == "max_execution_time" else "1"
        assert items[name] == f" = {shown} MIN {low} MAX {shown} CHANGEABLE_IN_READONLY", name
    # every setting the executor sends for user SQL is allowed under readonly, or the server would refuse the query
    assert set(sent) | {"additional_table_filters", "do_not_merge_across_partitions_select_final"} <= set(items)
    assert items["max_memory_usage"].startswith(f" = {3 * 1024**3} ")
    assert items["function_range_max_elements_in_block"].startswith(" = 500000 ")
    assert formatted(ch_engine, profile).startswith(
        "CREATE SETTINGS PROFILE IF NOT EXISTS `xolap_readonly_profile` SETTINGS readonly = 1, "
    )


def test_user_uses_the_profile_and_the_database(settings):
    user = readonly_user_ddl(plan_from_settings(settings, user="ro_sql", password="pw"))[1]
    assert user.startswith("CREATE USER IF NOT EXISTS ro_sql IDENTIFIED WITH sha256_password BY 'pw'")
    assert "DEFAULT DATABASE analytics SETTINGS PROFILE 'ro_sql_profile'" in user


def test_cluster_is_honoured(ch_engine, settings):
    ddl = readonly_user_ddl(plan_from_settings(settings.model_copy(update={"clickhouse_cluster": "main_cluster"})))
    assert all(" ON CLUSTER main_cluster " in sql for sql in ddl)
    for sql in ddl:
        formatted(ch_engine, sql)


@pytest.mark.parametrize("user", ["bad name", "x;DROP", "1abc", "", "naïve"])
def test_bad_user_names_are_refused(settings, user):
    with pytest.raises(ValueError):
        readonly_user_ddl(plan_from_settings(settings, user=user))


def test_cli_prints_the_ddl_with_a_placeholder_password(monkeypatch):
    from xolap import cli

    for name in ("XOLAP_CLICKHOUSE_DATABASE", "XOLAP_QUERY_MAX_EXECUTION_TIME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XOLAP_CLICKHOUSE_DATABASE", "clidb")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(cli.app, ["ch", "readonly-user", "--sql"])
        assert result.exit_code == 0, result.output
        assert f"BY '{PASSWORD_PLACEHOLDER}'" in result.stdout and "Replace the placeholder password" in result.stdout
        assert "GRANT SELECT ON clidb.raw_events TO xolap_readonly;" in result.stdout
        assert load_settings().clickhouse_database == "clidb"
        result = runner.invoke(cli.app, ["ch", "readonly-user", "--sql", "--password", "s3cret", "--user", "analyst"])
        assert result.exit_code == 0 and "BY 's3cret'" in result.stdout and "TO analyst;" in result.stdout
        assert "Replace the placeholder" not in result.stdout
        assert runner.invoke(cli.app, ["ch", "readonly-user"]).exit_code == 2
        assert runner.invoke(cli.app, ["ch", "readonly-user", "--sql", "--user", "a b"]).exit_code == 2
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("seconds", [4.079, 1234.5703125, 0.1, 30])
def test_the_profile_time_cap_is_exactly_the_most_run_sends(settings, seconds):
    """The cap is the configured limit as run() sends it (rounded up to 64ths of a second), written exactly: a cap
    printed with fewer digits (1234.57) would be below what run() sends (1234.5703125) and the server refuses it."""
    limits = Limits.from_settings(settings).replace(max_execution_time=seconds)
    plan = dataclasses.replace(plan_from_settings(settings), limits=limits)
    items = dict(re.findall(r"^\s+(\w+)(.*?),?$", readonly_user_ddl(plan)[0], re.M))
    cap = float(items["max_execution_time"].split(" MAX ")[1].split()[0])
    assert cap == limits.query_settings()["max_execution_time"] >= seconds


def test_the_grants_cover_what_the_scope_wall_reads_of_the_catalogue():
    """Every column of a system table the wall reads before each query is granted (else the wall fails closed on a
    server where system tables need a grant)."""
    import sqlglot
    from sqlglot import exp

    from xolap.analytics import scope_wall
    from xolap.analytics.readonly_user import WALL_CATALOGUE

    granted = {table: {column.strip() for column in columns.split(",")} for table, columns in WALL_CATALOGUE}
    read: dict[str, set[str]] = {}
    for sql in (scope_wall._CATALOGUE_SQL, scope_wall._TABLE_FUNCTIONS_SQL):
        tree = sqlglot.parse_one(sql, read="clickhouse")
        [table] = [f"{t.db}.{t.name}" for t in tree.find_all(exp.Table)]
        read.setdefault(table, set()).update(column.name for column in tree.find_all(exp.Column))
    assert read == granted
