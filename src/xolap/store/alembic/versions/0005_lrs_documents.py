"""LRS document resources (State, Activity Profile, Agent Profile)."""

revision = "0005_lrs_documents"
down_revision = "0004_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
