"""Postgres migrations up/down/up and the transactional job enqueue."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from xolap.jobs import defer_in_transaction, job_counts
from xolap.store import migrate
from xolap.store.db import engine, session_scope
from xolap.store.models import Project


def _tables(settings) -> set[str]:
    return set(inspect(engine(settings)).get_table_names())


def test_up_down_up(pg_settings):
    assert {"users", "sections", "projects", "memberships", "feature_flags", "procrastinate_jobs"} <= _tables(
        pg_settings
    )
    assert migrate.status(pg_settings)["pending"] is False
    migrate.downgrade(pg_settings, "base")
    assert _tables(pg_settings) <= {"alembic_version"}
    assert migrate.status(pg_settings)["pending"] is True
    migrate.upgrade(pg_settings)
    assert "procrastinate_jobs" in _tables(pg_settings) and migrate.status(pg_settings)["pending"] is False


def test_enqueue_commits_with_the_record(pg_settings):
    with session_scope(pg_settings) as session:
        session.add(Project(id=1, slug="p1", title="P1"))
        job_id = defer_in_transaction(session, "xolap.test.task", queue="test", args={"project": 1})
    assert job_id > 0
    with session_scope(pg_settings) as session:
        assert session.get(Project, 1) is not None
        assert job_counts(session) == {"todo": 1}


def test_rollback_leaves_neither_record_nor_job(pg_settings):
    with pytest.raises(RuntimeError):
        with session_scope(pg_settings) as session:
            session.add(Project(id=2, slug="p2", title="P2"))
            session.flush()
            defer_in_transaction(session, "xolap.test.task", queue="test", args={"project": 2})
            raise RuntimeError("boom")
    with session_scope(pg_settings) as session:
        assert session.get(Project, 2) is None
        assert session.execute(text("SELECT count(*) FROM procrastinate_jobs")).scalar_one() == 0
