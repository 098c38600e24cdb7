"""LRS credentials: HTTP Basic key/secret pairs (secret hashed), their scopes and optional section/project limit."""

from alembic import op

revision = "0006_lrs"
down_revision = "0005_lrs_documents"
branch_labels = None
depends_on = None

DDL = """
CREATE TABLE lrs_credentials (
    id SERIAL NOT NULL,
    name VARCHAR(200) NOT NULL,
    key VARCHAR(64) NOT NULL,
    secret_hash VARCHAR(64) NOT NULL,
    scopes VARCHAR(100) NOT NULL,
    section_id INTEGER,
    project_id INTEGER,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    revoked_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (id),
    UNIQUE (key),
    FOREIGN KEY(section_id) REFERENCES sections (id) ON DELETE CASCADE,
    FOREIGN KEY(project_id) REFERENCES projects (id) ON DELETE CASCADE
)
"""


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS lrs_credentials CASCADE")
