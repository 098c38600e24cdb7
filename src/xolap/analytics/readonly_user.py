"""DDL for the ClickHouse server user that custom SQL runs as (server mode): SELECT on the exposed tables only, and a
settings profile whose constraints keep it read-only and keep the executor's limits from being raised.

`xolap ch readonly-user --sql` prints it; an operator runs it once as an admin user, then sets
XOLAP_CLICKHOUSE_READONLY_URL=http://xolap_readonly:<password>@host:8123 (README, "Read-only user for custom SQL").

Why each part (the guard and the scope wall are the first two walls; this is the third, for server mode):
- readonly = 1 in the profile: no writes, no DDL, no SET of anything the constraints do not name.
- The executor's per-query limits (Limits.query_settings) are CHANGEABLE_IN_READONLY with MAX = the configured value
  and MIN above 0 (0 means "unlimited" to ClickHouse): the executor may lower them, nobody may raise or lift them.
  Profile defaults equal those maxima, so even a client that sends no settings is bounded.
- additional_table_filters must be CHANGEABLE_IN_READONLY too, or the executor could not send the scope wall. ClickHouse
  has no constraint for "settable once per query", so on a server a SETTINGS clause in user SQL could replace it; the
  guard refuses every SETTINGS clause and its verify step re-checks, and the grants below still confine the user to
  raw_events and content_titles. (On embedded chDB the executor's readonly=1 makes the filter unchangeable.)
- GRANT SELECT on raw_events and content_titles only (ingest_errors only with include_ingest_errors, for admins who
  run `xolap query --admin` over it); no CREATE TEMPORARY TABLE, so table functions (merge(), numbers(), url(), ...)
  are refused by the server. The grants also close what the scope wall's catalogue read cannot: a table created
  between that read and the query (a staging table of a concurrent ingest) is not granted, so it is unreadable.
- SELECT on the two catalogue columns sets the scope wall reads before each query (system.tables: database, name;
  system.table_functions: name, allow_readonly), so the wall still works where the server makes system tables need a
  grant (select_from_system_db_requires_grant); without them every walled query fails closed. ClickHouse lists in
  system.tables only the tables a user may see, which are the granted ones.
The statements are checked by tests/analytics/test_readonly_user.py with ClickHouse's own formatQuery(); chDB cannot
create users (stack-findings A5) and no ClickHouse server runs here, so applying them is not tested.
"""

from __future__ import annotations

from dataclasses import dataclass

from xolap.analytics.executor import Limits, engine_seconds
from xolap.clickhouse.events import READ_SETTINGS
from xolap.config import Settings

DEFAULT_USER = "xolap_readonly"
PASSWORD_PLACEHOLDER = "CHANGE-ME"
GRANTED_TABLES = ("raw_events", "content_titles")
# What the scope wall reads of the engine's catalogue before each query (xolap.analytics.scope_wall.catalogue_tables).
WALL_CATALOGUE = (("system.tables", "database, name"), ("system.table_functions", "name, allow_readonly"))
MIN_EXECUTION_TIME = "0.1"  # xolap query --timeout accepts 0.1 s and up


@dataclass(frozen=True)
class ReadonlyUserPlan:
    """Names and values the DDL is printed from."""

    user: str
    profile: str
    database: str
    cluster: str | None
    password: str
    limits: Limits
    include_ingest_errors: bool = False

    @property
    def tables(self) -> tuple[str, ...]:
        return GRANTED_TABLES + (("ingest_errors",) if self.include_ingest_errors else ())


def _identifier(name: str, what: str) -> str:
    if not name or not name.replace("_", "a").isalnum() or not name.isascii() or name[0].isdigit():
        raise ValueError(f"{what} {name!r} must be letters, digits and underscores, not starting with a digit")
    return name


def _string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _on_cluster(cluster: str | None) -> str:
    return f" ON CLUSTER {_identifier(cluster, 'cluster')}" if cluster else ""


def profile_settings(limits: Limits) -> list[str]:
    """The SETTINGS items of the profile: readonly, then each executor limit capped at its configured value."""
    executor_settings = {**limits.query_settings(), **READ_SETTINGS}
    capped = {  # numeric limits: the executor may lower them, nobody may raise them
        "max_execution_time": engine_seconds(limits.max_execution_time),  # the value run() sends at most
        "max_result_rows": limits.max_result_rows + 1,
        "max_rows_to_read": limits.max_rows_to_read,
        "max_bytes_to_read": limits.max_bytes_to_read,
        "max_memory_usage": limits.max_memory_usage,
        "function_range_max_elements_in_block": limits.max_range_elements,
        "function_sleep_max_microseconds_per_block": executor_settings["function_sleep_max_microseconds_per_block"],
    }
    items = ["readonly = 1"]
    for name, value in capped.items():
        # exact: a rounded MAX (:g keeps 6 digits, 1234.5703125 -> 1234.57) would refuse the very value run() sends
        shown = str(int(value)) if float(value).is_integer() else repr(value)
        # MIN too: 0 means "no limit" for every one of these, and 0 is below any MAX
        low = MIN_EXECUTION_TIME if name == "max_execution_time" else "1"
        items.append(f"{name} = {shown} MIN {low} MAX {shown} CHANGEABLE_IN_READONLY")
    for name, value in executor_settings.items():
        if name in capped:
            continue
        shown = _string(value) if isinstance(value, str) else str(int(value))
        items.append(f"{name} = {shown} CHANGEABLE_IN_READONLY")
    items.append("additional_table_filters CHANGEABLE_IN_READONLY")
    return items


def readonly_user_ddl(plan: ReadonlyUserPlan) -> list[str]:
    """CREATE SETTINGS PROFILE, CREATE USER and one GRANT per table, without trailing semicolons."""
    user = _identifier(plan.user, "user name")
    profile = _identifier(plan.profile, "profile name")
    database = _identifier(plan.database, "database name")
    on_cluster = _on_cluster(plan.cluster)
    statements = [
        f"CREATE SETTINGS PROFILE IF NOT EXISTS {profile}{on_cluster} SETTINGS\n    "
        + ",\n    ".join(profile_settings(plan.limits)),
        f"CREATE USER IF NOT EXISTS {user}{on_cluster} IDENTIFIED WITH sha256_password BY {_string(plan.password)}\n"
        f"    DEFAULT DATABASE {database} SETTINGS PROFILE {_string(profile)}",
    ]
    grant = f"GRANT{on_cluster}" if on_cluster else "GRANT"
    statements += [f"{grant} SELECT ON {database}.{table} TO {user}" for table in plan.tables]
    statements += [f"{grant} SELECT({columns}) ON {table} TO {user}" for table, columns in WALL_CATALOGUE]
    return statements


def plan_from_settings(
    settings: Settings,
    *,
    user: str = DEFAULT_USER,
    password: str = PASSWORD_PLACEHOLDER,
    include_ingest_errors: bool = False,
) -> ReadonlyUserPlan:
    return ReadonlyUserPlan(
        user=user,
        profile=f"{user}_profile",
        database=settings.clickhouse_database,
        cluster=settings.clickhouse_cluster,
        password=password,
        limits=Limits.from_settings(settings),
        include_ingest_errors=include_ingest_errors,
    )


def render_script(plan: ReadonlyUserPlan) -> str:
    """The DDL as one script, with a header comment saying how to apply it."""
    header = [
        f"-- Read-only ClickHouse user for xolap custom SQL (database {plan.database}).",
        "-- Run as an admin user, e.g.: clickhouse-client --multiquery < readonly-user.sql",
        f"-- Then: XOLAP_CLICKHOUSE_READONLY_URL=http://{plan.user}:<password>@<host>:8123",
    ]
    if plan.password == PASSWORD_PLACEHOLDER:
        header.append(f"-- Replace the placeholder password {PASSWORD_PLACEHOLDER!r} (or pass --password).")
    return "\n".join(header) + "\n" + ";\n\n".join(readonly_user_ddl(plan)) + ";\n"
