"""Security records: server-side sessions and failed logins."""

from alembic import op  # noqa: F401

revision = "0004_security"
down_revision = "0003_backfill"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
