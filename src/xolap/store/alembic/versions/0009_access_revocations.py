"""Access revocations: a sign-out or a revoked API token is logged with its secret's hash, so other processes forget
that secret's access facts only (xolap.store.access_cache), not every fact they keep.

A delete or fact-changing update of a web_sessions or api_tokens row still moves the access version (migration 0007),
and in the same trigger writes one row of access_revocations whose seq is the version it moved to, with the row's
secret hash (the sha256 of a random session id or token, never the secret, nothing naming the user). The version's
row lock orders those numbers by commit, so a reader that sees version V sees every logged row up to V. A process that
last saw version P and now reads V forgets only the logged secrets when V - P rows are logged in (P, V] (every move
was a revocation); any other move, or a logged row already pruned (kept 20 minutes, beyond the cache's longest-kept
entry), makes it forget everything, as before. An update that changes the secret hash itself, and TRUNCATE, move the
version without a log row (forget everything).
"""

from alembic import op

revision = "0009_access_revocations"
down_revision = "0008_access_version_new_secrets"
branch_labels = None
depends_on = None

# Copied here (not imported): a migration must keep meaning what it meant when it was written.
SECRET_TABLES = {"web_sessions": ("session", "id_hash"), "api_tokens": ("api_token", "token_hash")}
IGNORED_COLUMNS = {"web_sessions": "last_seen_at", "api_tokens": "last_used_at"}
KEPT = "20 minutes"  # access_cache.MAX_TOTAL_AGE_S is 10 minutes

FUNCTION = f"""
CREATE FUNCTION access_revocation_log() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    secret text := to_jsonb(OLD) ->> TG_ARGV[1];
    moved_to bigint;
BEGIN
    UPDATE access_version SET version = version + 1 WHERE id = 1 RETURNING version INTO moved_to;
    IF moved_to IS NOT NULL AND secret IS NOT NULL
       AND (TG_OP = 'DELETE' OR secret IS NOT DISTINCT FROM to_jsonb(NEW) ->> TG_ARGV[1]) THEN
        INSERT INTO access_revocations (seq, kind, secret_hash) VALUES (moved_to, TG_ARGV[0], secret);
        DELETE FROM access_revocations WHERE logged_at < now() - interval '{KEPT}';
    END IF;
    RETURN NULL;
END
$$
"""


def _changed(table: str) -> str:
    """0007's WHEN condition: an update that changed more than the table's bookkeeping column."""
    ignored = IGNORED_COLUMNS[table]
    return f"(to_jsonb(OLD) - '{ignored}') IS DISTINCT FROM (to_jsonb(NEW) - '{ignored}')"


def _drop_row_triggers(table: str) -> None:
    for trigger in ("access_version_rows", "access_version_updates"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")


def upgrade() -> None:
    op.execute(
        "CREATE TABLE access_revocations (seq BIGINT PRIMARY KEY, kind TEXT NOT NULL, secret_hash TEXT NOT NULL,"
        " logged_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    op.execute("CREATE INDEX access_revocations_logged_at ON access_revocations (logged_at)")
    op.execute(FUNCTION)
    for table, (kind, column) in SECRET_TABLES.items():
        _drop_row_triggers(table)
        arguments = f"'{kind}', '{column}'"
        op.execute(
            f"CREATE TRIGGER access_version_rows AFTER DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION access_revocation_log({arguments})"
        )
        op.execute(
            f"CREATE TRIGGER access_version_updates AFTER UPDATE ON {table} "
            f"FOR EACH ROW WHEN ({_changed(table)}) EXECUTE FUNCTION access_revocation_log({arguments})"
        )


def downgrade() -> None:
    for table in SECRET_TABLES:  # back to 0008: a delete or fact-changing update only moves the version
        _drop_row_triggers(table)
        op.execute(
            f"CREATE TRIGGER access_version_rows AFTER DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION access_version_bump()"
        )
        op.execute(
            f"CREATE TRIGGER access_version_updates AFTER UPDATE ON {table} "
            f"FOR EACH ROW WHEN ({_changed(table)}) EXECUTE FUNCTION access_version_bump()"
        )
    op.execute("DROP FUNCTION IF EXISTS access_revocation_log()")
    op.execute("DROP TABLE IF EXISTS access_revocations")
