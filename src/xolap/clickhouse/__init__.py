"""ClickHouse access: client factory, migrations and the raw_events column contract."""
