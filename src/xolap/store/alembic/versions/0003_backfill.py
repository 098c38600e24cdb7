"""Backfill records: manual runs, inventory runs, batches, chunk logs and the event journal (SSE resume ids)."""

from alembic import op

revision = "0003_backfill"
down_revision = "0002_procrastinate"
branch_labels = None
depends_on = None

DDL = """
CREATE TABLE backfill_runs (
    id SERIAL NOT NULL,
    target_table VARCHAR(200) NOT NULL,
    s3_pattern TEXT NOT NULL,
    format VARCHAR(40) NOT NULL,
    status VARCHAR(20) NOT NULL,
    options JSON NOT NULL,
    clickhouse_settings JSON NOT NULL,
    dry_run BOOLEAN NOT NULL,
    query_tag VARCHAR(120),
    job_id BIGINT,
    attempts INTEGER DEFAULT '0' NOT NULL,
    progress FLOAT,
    objects BIGINT,
    rows_read BIGINT DEFAULT '0' NOT NULL,
    rows_written BIGINT DEFAULT '0' NOT NULL,
    bytes_read BIGINT DEFAULT '0' NOT NULL,
    bytes_written BIGINT DEFAULT '0' NOT NULL,
    duration_ms BIGINT,
    error TEXT,
    metadata JSON NOT NULL,
    initiated_by VARCHAR(320),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    started_at TIMESTAMP WITH TIME ZONE,
    finished_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (id)
);
CREATE INDEX ix_backfill_runs_status ON backfill_runs (status);
CREATE TABLE backfill_inventory_runs (
    id SERIAL NOT NULL,
    manifest_url TEXT NOT NULL,
    source_bucket VARCHAR(255),
    destination_bucket VARCHAR(255),
    inventory_format VARCHAR(20),
    file_schema TEXT,
    target_table VARCHAR(200) NOT NULL,
    format VARCHAR(40) NOT NULL,
    clickhouse_settings JSON NOT NULL,
    options JSON NOT NULL,
    chunk_size INTEGER NOT NULL,
    max_simultaneous_batches INTEGER NOT NULL,
    key_prefix TEXT,
    date_from TIMESTAMP WITH TIME ZONE,
    date_to TIMESTAMP WITH TIME ZONE,
    dry_run BOOLEAN NOT NULL,
    status VARCHAR(20) NOT NULL,
    job_id BIGINT,
    error TEXT,
    metadata JSON NOT NULL,
    batches_total BIGINT DEFAULT '0' NOT NULL,
    batches_completed BIGINT DEFAULT '0' NOT NULL,
    batches_failed BIGINT DEFAULT '0' NOT NULL,
    batches_running BIGINT DEFAULT '0' NOT NULL,
    batches_pending BIGINT DEFAULT '0' NOT NULL,
    rows_ingested BIGINT DEFAULT '0' NOT NULL,
    bytes_ingested BIGINT DEFAULT '0' NOT NULL,
    initiated_by VARCHAR(320),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    started_at TIMESTAMP WITH TIME ZONE,
    finished_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (id)
);
CREATE INDEX ix_backfill_inventory_runs_status ON backfill_inventory_runs (status);
CREATE TABLE backfill_inventory_batches (
    id SERIAL NOT NULL,
    run_id INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    inventory_key TEXT NOT NULL,
    inventory_size BIGINT,
    inventory_md5 VARCHAR(64),
    status VARCHAR(20) NOT NULL,
    object_count BIGINT DEFAULT '0' NOT NULL,
    skipped_objects BIGINT DEFAULT '0' NOT NULL,
    processed_objects BIGINT DEFAULT '0' NOT NULL,
    chunk_count BIGINT DEFAULT '0' NOT NULL,
    chunks_completed BIGINT DEFAULT '0' NOT NULL,
    rows_read BIGINT DEFAULT '0' NOT NULL,
    rows_written BIGINT DEFAULT '0' NOT NULL,
    bytes_read BIGINT DEFAULT '0' NOT NULL,
    bytes_written BIGINT DEFAULT '0' NOT NULL,
    attempts INTEGER DEFAULT '0' NOT NULL,
    job_id BIGINT,
    error TEXT,
    metadata JSON NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    started_at TIMESTAMP WITH TIME ZONE,
    finished_at TIMESTAMP WITH TIME ZONE,
    last_attempt_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (id),
    CONSTRAINT uq_backfill_batch_sequence UNIQUE (run_id, sequence),
    FOREIGN KEY(run_id) REFERENCES backfill_inventory_runs (id) ON DELETE CASCADE
);
CREATE INDEX ix_backfill_inventory_batches_run_id ON backfill_inventory_batches (run_id);
CREATE INDEX ix_backfill_inventory_batches_status ON backfill_inventory_batches (status);
CREATE TABLE backfill_chunk_logs (
    id BIGSERIAL NOT NULL,
    batch_id INTEGER NOT NULL,
    chunk_index INTEGER NOT NULL,
    status VARCHAR(20) NOT NULL,
    keys JSON NOT NULL,
    source_url TEXT,
    dedup_token VARCHAR(64),
    dry_run BOOLEAN NOT NULL,
    attempts INTEGER DEFAULT '0' NOT NULL,
    rows_read BIGINT DEFAULT '0' NOT NULL,
    rows_written BIGINT DEFAULT '0' NOT NULL,
    bytes_read BIGINT DEFAULT '0' NOT NULL,
    bytes_written BIGINT DEFAULT '0' NOT NULL,
    duration_ms BIGINT,
    error TEXT,
    started_at TIMESTAMP WITH TIME ZONE,
    finished_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (id),
    CONSTRAINT uq_backfill_chunk UNIQUE (batch_id, chunk_index),
    FOREIGN KEY(batch_id) REFERENCES backfill_inventory_batches (id) ON DELETE CASCADE
);
CREATE INDEX ix_backfill_chunk_logs_batch_id ON backfill_chunk_logs (batch_id);
CREATE TABLE backfill_events (
    id BIGSERIAL NOT NULL,
    run_kind VARCHAR(20) NOT NULL,
    run_id INTEGER NOT NULL,
    batch_id INTEGER,
    kind VARCHAR(30) NOT NULL,
    payload JSON NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (id)
);
"""


def upgrade() -> None:
    for statement in DDL.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute(
        "DROP TABLE IF EXISTS backfill_events, backfill_chunk_logs, backfill_inventory_batches, "
        "backfill_inventory_runs, backfill_runs CASCADE"
    )
