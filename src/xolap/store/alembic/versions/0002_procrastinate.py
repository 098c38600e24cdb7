"""procrastinate's job-queue schema (the pinned procrastinate version's schema.sql)."""

from importlib import resources

from alembic import op

revision = "0002_procrastinate"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    schema = (resources.files("procrastinate.sql") / "schema.sql").read_text(encoding="utf-8")
    op.get_bind().exec_driver_sql(schema.replace("%", "%%"))


def downgrade() -> None:
    op.execute(
        "DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs, procrastinate_workers CASCADE"
    )
    op.execute(
        "DROP TYPE IF EXISTS procrastinate_job_event_type, procrastinate_job_status, procrastinate_job_to_defer_v1 CASCADE"
    )
    op.execute(
        "DO $$ DECLARE r record; BEGIN FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p "
        "WHERE p.proname LIKE 'procrastinate%' LOOP EXECUTE 'DROP FUNCTION IF EXISTS ' || r.f || ' CASCADE'; END LOOP; END $$"
    )
