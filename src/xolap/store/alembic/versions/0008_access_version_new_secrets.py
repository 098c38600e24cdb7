"""Access version: a new session or API token row no longer moves it (xolap.store.access_cache.NEW_ROWS_CHANGE_NOTHING).

A new row of web_sessions or api_tokens is a new random secret's hash: no access fact any process keeps can name it,
so a sign-in need not make every process forget every kept fact. Their deletes (logout, revoke) and fact-changing
updates still move the version, as 0007's other triggers do.
"""

from alembic import op

revision = "0008_access_version_new_secrets"
down_revision = "0007_access_version"
branch_labels = None
depends_on = None

# Copied here (not imported): a migration must keep meaning what it meant when it was written.
NEW_ROWS_CHANGE_NOTHING = ("web_sessions", "api_tokens")


def upgrade() -> None:
    for table in NEW_ROWS_CHANGE_NOTHING:
        op.execute(f"DROP TRIGGER IF EXISTS access_version_rows ON {table}")
        op.execute(
            f"CREATE TRIGGER access_version_rows AFTER DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION access_version_bump()"
        )


def downgrade() -> None:
    for table in NEW_ROWS_CHANGE_NOTHING:
        op.execute(f"DROP TRIGGER IF EXISTS access_version_rows ON {table}")
        op.execute(
            f"CREATE TRIGGER access_version_rows AFTER INSERT OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION access_version_bump()"
        )
