"""Postgres store: users, scopes, flags, runs, saved queries (SQLAlchemy 2 + Alembic; embedded pgserver by default)."""
