"""Security records: server-side sessions, failed logins, and disabled users."""

from alembic import op

revision = "0004_security"
down_revision = "0003_backfill"
branch_labels = None
depends_on = None

DDL = """
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMP WITH TIME ZONE;
CREATE TABLE web_sessions (
    id SERIAL NOT NULL,
    user_id INTEGER NOT NULL,
    id_hash VARCHAR(64) NOT NULL,
    password_fingerprint VARCHAR(64) NOT NULL,
    user_agent VARCHAR(300) NOT NULL,
    client_address VARCHAR(64) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    last_seen_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    revoked_at TIMESTAMP WITH TIME ZONE,
    revoked_reason VARCHAR(40),
    PRIMARY KEY (id),
    UNIQUE (id_hash),
    FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX ix_web_sessions_user_id ON web_sessions (user_id);
CREATE TABLE failed_logins (
    id BIGSERIAL NOT NULL,
    email VARCHAR(320) NOT NULL,
    client_address VARCHAR(64) NOT NULL,
    address_group VARCHAR(64) NOT NULL,
    reason VARCHAR(40) NOT NULL,
    attempted_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX ix_failed_logins_attempted_at ON failed_logins (attempted_at);
CREATE INDEX ix_failed_logins_email_group ON failed_logins (email, address_group, attempted_at);
CREATE INDEX ix_failed_logins_group ON failed_logins (address_group, attempted_at)
"""


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS failed_logins, web_sessions CASCADE")
    op.execute("ALTER TABLE users DROP COLUMN IF EXISTS disabled_at")
