"""The raw_events column contract: every column the mappings write, with its ClickHouse type.

Torus's columns keep their exact names, types and order (Torus's DDL; migration 0005 moved page_sub_type and
video_played_segments there), so a Torus ETL that inserts with its own column list works unchanged. xolap adds a few nullable columns after them. The migration test checks that
the migrated table matches this list, so the SQL and Python sides cannot drift.
"""

from __future__ import annotations

# (name, ClickHouse type) for every column a mapping produces, in table order.
TORUS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("user_id", "Nullable(String)"),
    ("home_page", "Nullable(String)"),
    ("section_id", "Nullable(UInt64)"),
    ("project_id", "Nullable(UInt64)"),
    ("publication_id", "Nullable(UInt64)"),
    ("enrollment_id", "Nullable(UInt64)"),
    ("timestamp", "DateTime64(3)"),
    ("event_type", "LowCardinality(String)"),
    ("verb_id", "LowCardinality(String)"),
    ("page_id", "Nullable(UInt64)"),
    ("content_element_id", "Nullable(String)"),
    ("video_url", "Nullable(String)"),
    ("video_time", "Nullable(Float64)"),
    ("video_length", "Nullable(Float64)"),
    ("video_progress", "Nullable(Float64)"),
    ("video_played_segments", "Nullable(String)"),
    ("video_seek_from", "Nullable(Float64)"),
    ("video_seek_to", "Nullable(Float64)"),
    ("activity_attempt_guid", "Nullable(String)"),
    ("activity_attempt_number", "Nullable(UInt32)"),
    ("page_attempt_guid", "Nullable(String)"),
    ("page_attempt_number", "Nullable(UInt32)"),
    ("part_attempt_guid", "Nullable(String)"),
    ("part_attempt_number", "Nullable(UInt32)"),
    ("activity_id", "Nullable(UInt64)"),
    ("activity_revision_id", "Nullable(UInt64)"),
    ("part_id", "Nullable(String)"),
    ("page_sub_type", "Nullable(String)"),
    ("score", "Nullable(Float64)"),
    ("out_of", "Nullable(Float64)"),
    ("scaled_score", "Nullable(Float64)"),
    ("success", "Nullable(Bool)"),
    ("completion", "Nullable(Bool)"),
    ("response", "Nullable(String)"),
    ("feedback", "Nullable(String)"),
    ("hints_requested", "Nullable(UInt32)"),
    ("attached_objectives", "Nullable(String)"),
    ("session_id", "Nullable(String)"),
    ("event_hash", "String"),
    ("source_file", "Nullable(String)"),
    ("source_etag", "Nullable(String)"),
    ("source_line", "Nullable(UInt32)"),
)

# Columns xolap adds (nullable, so inserts that omit them still work).
XOLAP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("statement_id", "Nullable(String)"),  # xAPI statement id, when the producer set one
    ("object_id", "Nullable(String)"),  # xAPI object.id as sent
    ("object_type", "Nullable(String)"),  # object.definition.type
    ("object_name", "Nullable(String)"),  # object.definition.name (first language), feeds content_titles
)

# Every column a mapping writes (server-side defaults fill inserted_at and event_version).
MAPPED_COLUMNS: tuple[tuple[str, str], ...] = TORUS_COLUMNS + XOLAP_COLUMNS
MAPPED_COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in MAPPED_COLUMNS)

# Columns the server fills: name -> (type, default expression).
DEFAULTED_COLUMNS: dict[str, tuple[str, str]] = {
    "inserted_at": ("DateTime", "now()"),
    "event_version": ("DateTime64(3)", "now64(3)"),
}
