"""LRS document resources (State, Activity Profile, Agent Profile): one table of documents with their bytes, content
type, SHA-1 ETag and last change, addressed by hashes of their identifying parameters (xolap.lrs.documents)."""

from alembic import op

revision = "0005_lrs_documents"
down_revision = "0004_security"
branch_labels = None
depends_on = None

DDL = """
CREATE TABLE lrs_documents (
    id BIGSERIAL NOT NULL,
    kind VARCHAR(20) NOT NULL,
    address VARCHAR(64) NOT NULL,
    scope VARCHAR(64) NOT NULL,
    activity_id TEXT,
    agent_hash VARCHAR(64),
    registration VARCHAR(36),
    document_id TEXT NOT NULL,
    content_type VARCHAR(255) NOT NULL,
    content BYTEA NOT NULL,
    etag VARCHAR(40) NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    owner_credential_id INTEGER,
    owner_section_id BIGINT,
    owner_project_id BIGINT,
    PRIMARY KEY (id),
    UNIQUE (address),
    CHECK (kind IN ('state', 'activity_profile', 'agent_profile'))
);
CREATE INDEX ix_lrs_documents_scope ON lrs_documents (scope, updated_at)
"""


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS lrs_documents")
