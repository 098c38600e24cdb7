"""Core tables: users, api tokens, projects, sections, memberships, feature flags, saved visualizations."""

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def _created() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        _created(),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        _created(),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("slug", sa.String(200), nullable=False, unique=True),
        sa.Column("title", sa.String(500), nullable=False, server_default=""),
        _created(),
    )
    op.create_table(
        "sections",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("slug", sa.String(200), nullable=False, unique=True),
        sa.Column("title", sa.String(500), nullable=False, server_default=""),
        sa.Column("project_id", sa.BigInteger, sa.ForeignKey("projects.id", ondelete="SET NULL"), index=True),
        _created(),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("section_id", sa.BigInteger, sa.ForeignKey("sections.id", ondelete="CASCADE")),
        sa.Column("project_id", sa.BigInteger, sa.ForeignKey("projects.id", ondelete="CASCADE")),
        _created(),
        sa.UniqueConstraint("user_id", "role", "section_id", "project_id", name="uq_membership"),
        sa.CheckConstraint("role IN ('instructor', 'author')", name="ck_membership_role"),
        sa.CheckConstraint(
            "(role = 'instructor' AND section_id IS NOT NULL AND project_id IS NULL) OR "
            "(role = 'author' AND project_id IS NOT NULL AND section_id IS NULL)",
            name="ck_membership_scope",
        ),
    )
    op.create_table(
        "feature_flags",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scope_type", sa.String(20), nullable=False, server_default="global"),
        sa.Column("scope_id", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("name", "scope_type", "scope_id", name="uq_feature_flag"),
        sa.CheckConstraint("scope_type IN ('global', 'section', 'project')", name="ck_feature_flag_scope"),
    )
    op.create_table(
        "saved_visualizations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("scope_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("sql", sa.Text, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        _created(),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("scope IN ('section', 'project')", name="ck_saved_visualization_scope"),
    )


def downgrade() -> None:
    for table in (
        "saved_visualizations",
        "feature_flags",
        "memberships",
        "sections",
        "projects",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)
