"""Access version: one Postgres row that every committed change of an access fact moves, from any process.

Triggers on the access-fact tables (xolap.store.access_cache.WATCHED_TABLES) bump it inside the writing
transaction (a row update, not a sequence: a sequence moves before commit, so a reader could file pre-commit facts
under the new number). Updates that change only bookkeeping columns (IGNORED_COLUMNS) do not move it, nor do
statements that touch no row (INSERT ... ON CONFLICT DO NOTHING that inserted nothing). Processes that keep access
facts revalidate them by reading this number.
"""

from alembic import op

revision = "0007_access_version"
down_revision = "0006_lrs"
branch_labels = None
depends_on = None

# Copied here (not imported): a migration must keep meaning what it meant when it was written.
WATCHED_TABLES = ("users", "memberships", "web_sessions", "api_tokens", "feature_flags", "sections", "projects")
IGNORED_COLUMNS = {"web_sessions": "last_seen_at", "api_tokens": "last_used_at"}

FUNCTION = """
CREATE FUNCTION access_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE access_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END
$$
"""


def _changed(table: str) -> str:
    """The WHEN condition of an update that changed more than the table's bookkeeping column."""
    ignored = IGNORED_COLUMNS.get(table)
    if ignored is None:
        return "OLD.* IS DISTINCT FROM NEW.*"
    return f"(to_jsonb(OLD) - '{ignored}') IS DISTINCT FROM (to_jsonb(NEW) - '{ignored}')"


def upgrade() -> None:
    op.execute("CREATE TABLE access_version (id SMALLINT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)")
    # Starts at the clock's milliseconds: a down/up never brings back a number some process still holds.
    op.execute(
        "INSERT INTO access_version (id, version) VALUES (1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)"
    )
    op.execute(FUNCTION)
    for table in WATCHED_TABLES:
        op.execute(
            f"CREATE TRIGGER access_version_rows AFTER INSERT OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION access_version_bump()"
        )
        op.execute(
            f"CREATE TRIGGER access_version_updates AFTER UPDATE ON {table} "
            f"FOR EACH ROW WHEN ({_changed(table)}) EXECUTE FUNCTION access_version_bump()"
        )
        op.execute(
            f"CREATE TRIGGER access_version_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION access_version_bump()"
        )


def downgrade() -> None:
    for table in WATCHED_TABLES:
        for trigger in ("access_version_rows", "access_version_updates", "access_version_truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS access_version_bump()")
    op.execute("DROP TABLE IF EXISTS access_version")
