"""ClickHouse migrations: versioned up/down SQL shipped in the package, rendered for single node or cluster.

A migration file is `NNNN_name.sql` with `-- +up` and `-- +down` sections; each section holds one or more
statements ending in `;` at the end of a line (ClickHouse runs one statement per request). Placeholders:
`{{db}}`, `{{on_cluster}}`, `{{ttl}}` and `{{engine <Family> <table> [args]}}` (Replicated* on a cluster).
Applied versions are an append-only log in `<db>.schema_migrations`; a version's state is its latest row.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from xolap.clickhouse import data_version
from xolap.clickhouse.client_protocol import ClickHouseClient

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_PLACEHOLDER_RE = re.compile(r"\{\{\s*(\w+)((?:\s+[^}\s]+)*)\s*\}\}")


DATETIME_LAST_SECOND = 2**32 - 1  # 2106-02-07 06:28:15 UTC, the last second a DateTime holds


class MigrationError(Exception):
    """A migration could not be read or applied; the message names the file and statement."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: str
    down: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256((self.up + "\0" + self.down).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RenderContext:
    """What differs between deployments: database, optional cluster, optional TTL."""

    database: str
    cluster: str | None = None
    ttl_months: int | None = None

    def engine(self, family: str, table: str, *args: str) -> str:
        if not self.cluster:
            return f"{family}({', '.join(args)})"
        path = f"'/clickhouse/tables/{{shard}}/{self.database}/{table}'"
        replica = "'{replica}'"
        return f"Replicated{family}({', '.join([path, replica, *args])})"

    def ttl(self) -> str:
        """raw_events' TTL clause ('' without one). The expiry is summed in DateTime64 (to 2299) and capped at
        DateTime's last second (2106-02-07), which never passes: a DateTime sum wraps past it, so 1000 months expired
        an event of 2025 at once (read as 1972) and any TTL expired the events stamped near 2106."""
        if not self.ttl_months:
            return ""
        months = int(self.ttl_months)
        expiry = f"toDateTime64(timestamp, 0) + INTERVAL {months} MONTH"
        return f"TTL toDateTime(least({expiry}, toDateTime64({DATETIME_LAST_SECOND}, 0)))"

    def render(self, sql: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name, args = match.group(1), match.group(2).split()
            if name == "db":
                return f"`{self.database}`"
            if name == "on_cluster":
                return f"ON CLUSTER '{self.cluster}'" if self.cluster else ""
            if name == "ttl":
                return self.ttl()
            if name == "engine" and len(args) >= 2:
                return self.engine(args[0], args[1], *args[2:])
            raise MigrationError(f"unknown placeholder {match.group(0)!r}")

        return _PLACEHOLDER_RE.sub(replace, sql)


def split_statements(sql: str) -> list[str]:
    """Split a section on `;` at line ends, dropping comment-only chunks."""
    statements, current = [], []
    for line in sql.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current))
            current = []
    if "\n".join(current).strip():
        statements.append("\n".join(current))
    cleaned = []
    for statement in statements:
        body = (
            "\n".join(line for line in statement.splitlines() if not line.strip().startswith("--"))
            .strip()
            .rstrip(";")
            .strip()
        )
        if body:
            cleaned.append(body)
    return cleaned


def load_migrations() -> list[Migration]:
    """Every migration shipped in the package, by version."""
    found = []
    folder = resources.files("xolap.clickhouse").joinpath("migrations")
    for entry in folder.iterdir():
        match = _FILE_RE.match(entry.name)
        if not match:
            continue
        text = entry.read_text()
        if "-- +up" not in text or "-- +down" not in text:
            raise MigrationError(f"{entry.name}: needs both '-- +up' and '-- +down' sections")
        up = text.split("-- +up", 1)[1].split("-- +down", 1)[0]
        down = text.split("-- +down", 1)[1]
        found.append(Migration(int(match.group(1)), match.group(2), up, down))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {versions}")
    return found


@dataclass(frozen=True)
class MigrationStatus:
    version: int
    name: str
    applied: bool
    applied_at: str | None


class Migrator:
    """Runs migrations against one client and render context."""

    def __init__(self, client: ClickHouseClient, context: RenderContext, migrations: list[Migration] | None = None):
        self.client = client
        self.context = context
        self.migrations = migrations if migrations is not None else load_migrations()

    @property
    def _log_table(self) -> str:
        return f"`{self.context.database}`.schema_migrations"

    def setup_statements(self) -> list[str]:
        oc = self.context.render("{{on_cluster}}")
        return [
            f"CREATE DATABASE IF NOT EXISTS `{self.context.database}` {oc}".strip(),
            f"CREATE TABLE IF NOT EXISTS {self._log_table} {oc} (version UInt32, name String, applied UInt8, "
            f"checksum String, recorded_at DateTime64(6) DEFAULT now64(6)) "
            f"ENGINE = {self.context.engine('MergeTree', 'schema_migrations')} ORDER BY (version, recorded_at)",
        ]

    def setup(self) -> None:
        for statement in self.setup_statements():
            self.client.command(statement)

    def _is_set_up(self) -> bool:
        return bool(
            self.client.query(
                "SELECT count() FROM system.tables WHERE database = {d:String} AND name = 'schema_migrations'",
                parameters={"d": self.context.database},
            ).result_rows[0][0]
        )

    def applied_versions(self) -> dict[int, str]:
        """version -> applied_at for versions whose latest log row says applied."""
        if not self._is_set_up():
            return {}
        rows = self.client.query(
            f"SELECT version, argMax(applied, recorded_at), toString(max(recorded_at)) FROM {self._log_table} GROUP BY version"
        ).result_rows
        return {int(v): at for v, applied, at in rows if applied}

    def status(self) -> list[MigrationStatus]:
        applied = self.applied_versions()
        return [
            MigrationStatus(m.version, m.name, m.version in applied, applied.get(m.version)) for m in self.migrations
        ]

    def pending(self) -> list[Migration]:
        applied = self.applied_versions()
        return [m for m in self.migrations if m.version not in applied]

    def _run(self, migration: Migration, section: str) -> None:
        try:
            for statement in split_statements(self.context.render(getattr(migration, section))):
                try:
                    self.client.command(statement)
                except Exception as exc:
                    first_line = statement.splitlines()[0][:120]
                    raise MigrationError(
                        f"{migration.version:04d}_{migration.name} ({section}) failed at `{first_line}`: {exc}"
                    ) from exc
        finally:  # cached answers and remembered rollup builds are from before these tables changed
            data_version.schema_changed(self.context.database)
        self.client.command(
            f"INSERT INTO {self._log_table} (version, name, applied, checksum) VALUES "
            f"({migration.version}, '{migration.name}', {1 if section == 'up' else 0}, '{migration.checksum}')"
        )

    def up(self, target: int | None = None) -> list[Migration]:
        """Apply pending migrations in order (up to `target` inclusive); returns what ran."""
        self.setup()
        ran = []
        for migration in self.pending():
            if target is not None and migration.version > target:
                break
            self._run(migration, "up")
            ran.append(migration)
        return ran

    def missing_tables(self) -> list[str]:
        """Tables and views the applied migrations leave that the database does not hold (dropped by hand, a restore
        that missed them), sorted; [] when the schema is whole. One query when every migration is applied."""
        present = {
            row[0]
            for row in self.client.query(
                "SELECT name FROM system.tables WHERE database = {d:String}", parameters={"d": self.context.database}
            ).result_rows
        }
        missing = tables_left_by(self.migrations) - present
        if missing:  # pending migrations' tables are not missing: expect only what the applied ones leave
            applied = self.applied_versions()
            missing = tables_left_by([m for m in self.migrations if m.version in applied]) - present
        return sorted(missing)

    def down(self, steps: int = 1) -> list[Migration]:
        """Revert the newest `steps` applied migrations; returns what was reverted."""
        applied = self.applied_versions()
        reverted = []
        for migration in [m for m in reversed(self.migrations) if m.version in applied][:steps]:
            self._run(migration, "down")
            reverted.append(migration)
        return reverted


_TABLE_STATEMENT_RE = re.compile(
    r"^\s*(CREATE|DROP)\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?\{\{\s*db\s*\}\}\.`?(\w+)",
    re.IGNORECASE | re.MULTILINE,
)


def tables_left_by(migrations: list[Migration]) -> set[str]:
    """The tables and views that these migrations' up sections, run in order, leave created."""
    tables: set[str] = set()
    for migration in sorted(migrations, key=lambda m: m.version):
        for action, name in _TABLE_STATEMENT_RE.findall(migration.up):
            if action.upper() == "CREATE":
                tables.add(name)
            else:
                tables.discard(name)
    return tables


# raw_events' TTL as tables created before RenderContext.ttl capped it show it in system.tables.engine_full, and the
# months of either TTL (the capped one: `least(toDateTime64(timestamp, 0) + toIntervalMonth(N), …)`)
_WRAPPING_TTL_RE = re.compile(r"TTL toDateTime\(timestamp\) \+ toIntervalMonth\((\d+)\)")
_ANY_TTL_MONTHS_RE = re.compile(r"\bTTL .*?toIntervalMonth\((\d+)\)")
# the setting the repair sets on the table while it runs (left behind by a repair cut off before its end)
_RECALCULATE_ONLY = "materialize_ttl_recalculate_only"


def wrapping_ttl(client: ClickHouseClient, database: str) -> tuple[int, int] | None:
    """(months, rows) of a raw_events whose TTL still wraps past 2106, else None (no such table, no TTL, or capped
    and repaired): the former TTL (a DateTime sum), or the capped one while a part still carries an expiry computed
    under the former (before its own event time: a repair cut off before it recomputed every part), or while the
    repair's own setting is still on the table."""
    rows = client.query(
        "SELECT engine_full, total_rows FROM system.tables WHERE database = {d:String} AND name = 'raw_events'",
        parameters={"d": database},
    ).result_rows
    if not rows:
        return None
    engine, total = str(rows[0][0]), int(rows[0][1] or 0)
    former = _WRAPPING_TTL_RE.search(engine)
    if former is not None:
        return int(former.group(1)), total
    months = _ANY_TTL_MONTHS_RE.search(engine)
    if months is None:
        return None
    if f"{_RECALCULATE_ONLY} = 1" in engine or _parts_with_wrapped_expiry(client, database):
        return int(months.group(1)), total
    return None


def _parts_with_wrapped_expiry(client: ClickHouseClient, database: str) -> int:
    """Active raw_events parts holding rows whose stored expiry comes before their own month (a monthly partition
    inside DateTime's range, 1970-01 to 2106-01: system.parts' min_time wraps outside it, and a capped expiry is
    2106-02-07): computed under the former TTL, they are dropped whole by the next merge that applies a TTL."""
    return int(
        client.query(
            "SELECT count() FROM system.parts WHERE database = {d:String} AND table = 'raw_events' AND active "
            "AND rows > 0 AND match(partition, '^[0-9]{6}$') AND partition BETWEEN '197001' AND '210601' "
            "AND delete_ttl_info_min < toDateTime(makeDate(toUInt16(substring(partition, 1, 4)), "
            "toUInt8(substring(partition, 5, 2)), 1))",
            parameters={"d": database},
        ).result_rows[0][0]
    )


def wrapping_ttl_message(database: str, months: int) -> str:
    """What health says of a raw_events whose TTL still wraps (serve's start-up repair did not run or failed)."""
    return (
        f"`{database}`.raw_events keeps the former TTL of {months} months, which expires young events at a merge "
        "(a date past 2106 wraps): restart `xolap serve` to cap it, or see its log for why it failed"
    )


def repair_wrapping_ttl(
    client: ClickHouseClient, context: RenderContext, announce: Callable[[int, int], None] | None = None
) -> int | None:
    """Give a raw_events created with the former TTL (a DateTime sum that wraps past 2106: 1000 months expired events
    of 2025) the capped TTL of the same months, keeping its rows; `announce(months, rows)` is called first. Returns
    the months when it was repaired, else None (nothing to repair, see wrapping_ttl).

    Measured on chDB 26.9: a part stored under the former TTL carries the wrapped expiry (1972), and a mutation or
    TTL merge that applies a TTL to it drops it whole by that stored expiry, whatever the table's TTL is by then
    (MODIFY TTL with its own MATERIALIZE TTL: 4,000 rows -> 0), while an ordinary merge under a new TTL expression
    computes each row's expiry again. So: TTL merges stop for the table, the capped TTL is set without
    materializing it, every part's expiry is recomputed without applying it (materialize_ttl_recalculate_only: a
    mutation that reads the timestamp column and rewrites the parts' TTL files, waited for), and TTL merges start
    again. Each step may be run again: a repair cut off midway is found and finished at the next start. Rows the
    engine already dropped before this runs cannot be brought back (chDB applies TTL merges within a second of
    opening a data dir, before its first query)."""
    found = wrapping_ttl(client, context.database)
    if found is None:
        return None
    months, rows = found
    if announce is not None:
        announce(months, rows)
    capped = RenderContext(context.database, context.cluster, months)
    on_cluster = context.render("{{on_cluster}}")
    table = f"`{context.database}`.raw_events"
    client.command(f"SYSTEM STOP TTL MERGES {on_cluster} {table}")
    try:
        client.command(f"ALTER TABLE {table} {on_cluster} MODIFY SETTING {_RECALCULATE_ONLY} = 1")
        client.command(
            f"ALTER TABLE {table} {on_cluster} MODIFY {capped.ttl()} SETTINGS materialize_ttl_after_modify = 0"
        )
        client.command(f"ALTER TABLE {table} {on_cluster} MATERIALIZE TTL SETTINGS mutations_sync = 2")
        client.command(f"ALTER TABLE {table} {on_cluster} RESET SETTING {_RECALCULATE_ONLY}")
    finally:
        client.command(f"SYSTEM START TTL MERGES {on_cluster} {table}")
    return months


def render_all(context: RenderContext, migrations: list[Migration] | None = None) -> list[str]:
    """Every up statement as it would be sent (used by tests and `xolap ch migrate sql`)."""
    migrator_sql = Migrator.__new__(Migrator)
    migrator_sql.context = context
    statements = migrator_sql.setup_statements()
    for migration in migrations if migrations is not None else load_migrations():
        statements.extend(split_statements(context.render(migration.up)))
    return statements


MIGRATION_ACTIONS = ("setup", "up", "down", "status")


def run_action(migrator: Migrator, action: str, *, steps: int = 1, target: int | None = None) -> dict:
    """The one implementation of setup/up/down/status (CLI, admin page and API): what changed and the status after.
    Raises ValueError for an unknown action."""
    if action == "setup":
        migrator.setup()
        changed: list[Migration] = []
    elif action == "up":
        changed = migrator.up(target=target)
    elif action == "down":
        changed = migrator.down(steps=steps)
    elif action == "status":
        changed = []
    else:
        raise ValueError(f"unknown migration action {action!r}: use {', '.join(MIGRATION_ACTIONS)}")
    return {
        "action": action,
        "changed": [f"{m.version:04d}_{m.name}" for m in changed],
        "status": [s.__dict__ for s in migrator.status()],
    }
