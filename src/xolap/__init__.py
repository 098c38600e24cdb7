"""xolap: an analytics warehouse for xAPI learning events (ClickHouse + Postgres)."""

__version__ = "0.1.0"
