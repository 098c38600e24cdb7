"""xAPI statements → raw_events rows: the one mapping (fields), its Python (rows) and ClickHouse SQL (sql) forms."""

from xolap.xapi.rows import Rejected, build_row, classify, line_hash, map_statement
from xolap.xapi.sql import insert_select_sql, rejected_lines_sql, select_expressions, valid_condition

__all__ = [
    "Rejected",
    "build_row",
    "classify",
    "insert_select_sql",
    "line_hash",
    "map_statement",
    "rejected_lines_sql",
    "select_expressions",
    "valid_condition",
]
