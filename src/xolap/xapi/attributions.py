"""Experiment attributions: a statement's context extension `…/experiment_attributions` → experiment_attributions rows.

Torus's ETL writes one row per attribution object (Torus's DDL, migration 0006): the host event's hash, type,
time and scope ids, the attribution's role / attribution_type / experiment, condition, assignment … ids, and
attribution_hash = SHA-256 of "<raw_event_hash>:<key>". Torus's validation, applied per attribution instead of
failing the whole S3 object: the extension must be an array of at most MAX_PER_STATEMENT objects; an attribution
needs a non-empty key (`key`, or the older `idempotency_key`) and a valid (role, attribution_type) pair
(VALID_PAIRS; attribution_type defaults to the role). An attribution that breaks them is not written; a malformed
typed value in a valid one is stored NULL. Either gives a warning for the line (its event row is stored). Strings
and the hashed key are stripped as Torus's `_safe_str` does (WHITESPACE; empty → NULL), and `algorithm` falls back
to `assigned_by_policy` (FALLBACK_KEYS), as Torus's Lambda writes them.

`attribution_rows` is the Python form (every Python ingest path), `select_sql` / `warnings_sql` the ClickHouse
form (the SQL file path and backfills): the same columns, conversions (xolap.xapi.rows / sql) and messages.
"""

from __future__ import annotations

import hashlib
from typing import Any

from xolap.xapi import fields as spec
from xolap.xapi import torus_json
from xolap.xapi.rows import CONVERTERS, EXPECTED, _Invalid, quoted_value
from xolap.xapi.sql_values import FALSY, convert, object_map, quote, warning_value
from xolap.xapi.torus_json import bind
from xolap.xapi.torus_spellings import WHITESPACE_RE2

ATTRIBUTIONS_KEY = spec.OLI + "experiment_attributions"
PATH: tuple[str, ...] = ("context", "extensions", ATTRIBUTIONS_KEY)
LABEL = "experiment_attributions"
MAX_PER_STATEMENT = 100
ROLES = ("assignment", "exposure", "outcome", "reward", "policy_update")
VALID_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {(role, role) for role in ROLES}
    | {("rollup", "outcome"), ("rollup", "reward"), ("media_interaction", "assignment")}
)
DEFAULT_ASSIGNMENT_SCOPE = "intervention"

# Columns taken from the host event's row, in table order.
EVENT_COLUMNS: tuple[str, ...] = ("source_file", "source_etag", "source_line", "timestamp")
# Scope ids: the attribution's own value when it has one, else the host event's.
SCOPE_COLUMNS: tuple[str, ...] = ("section_id", "project_id", "publication_id", "enrollment_id")
# (column, value kind) read from the attribution object under the column's name, in table order.
VALUE_FIELDS: tuple[tuple[str, str], ...] = (
    ("experiment_id", "uint64"),
    ("experiment_uuid", "string"),
    ("condition_id", "uint64"),
    ("condition_code", "string"),
    ("assignment_id", "uint64"),
    ("assignment_key", "string"),
    ("assignment_scope", "string"),
    ("algorithm", "string"),
    ("policy_version", "string"),
    ("content_revision_id", "uint64"),
    ("reward_value", "float64"),
    ("reward_source", "string"),
    ("intervention_id", "uint64"),
    ("intervention_key", "string"),
    ("assessment_binding_id", "uint64"),
    ("assessment_page_resource_id", "uint64"),
    ("resource_attempt_id", "uint64"),
    ("disposition", "string"),
    ("reward_threshold", "float64"),
    ("normalized_score", "float64"),
    ("page_revision_id", "uint64"),
)
# A value read from another key when the column's own is falsy in Python's sense (Torus's Lambda: `algorithm or
# assigned_by_policy`; Torus's condition-assigned statements carry both), the other key's value taken as it is.
FALLBACK_KEYS: dict[str, str] = {"algorithm": "assigned_by_policy"}
# Torus's Lambda writes every attribution string (and the key it hashes) through `_safe_str`: Python's str.strip(),
# an empty result None: torus_spellings.WHITESPACE, the characters str.strip() removes.
_CH_TYPES = {"uint64": "Nullable(UInt64)", "string": "Nullable(String)", "float64": "Nullable(Float64)"}

# (name, ClickHouse type) of every column the mapping writes, in Torus's table order (event_version and
# inserted_at are server defaults).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("raw_event_hash", "String"),
    ("attribution_hash", "String"),
    ("source_file", "Nullable(String)"),
    ("source_etag", "Nullable(String)"),
    ("source_line", "Nullable(UInt32)"),
    ("raw_event_type", "LowCardinality(String)"),
    ("timestamp", "DateTime64(3)"),
    *((name, "Nullable(UInt64)") for name in SCOPE_COLUMNS),
    ("experiment_role", "LowCardinality(String)"),
    ("attribution_type", "LowCardinality(String)"),
    *(
        (name, "LowCardinality(String)" if name == "assignment_scope" else _CH_TYPES[kind])
        for name, kind in VALUE_FIELDS
    ),
)
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in COLUMNS)


def attribution_hash(raw_event_hash: str, key: str) -> str:
    return hashlib.sha256(f"{raw_event_hash}:{key}".encode()).hexdigest()


def _where(index: int | None) -> str:
    return LABEL if index is None else f"{LABEL}[{index}]"


def _quoted(value: Any) -> str:
    return quoted_value(value)


def _text(value: Any) -> str | None:
    """role / attribution_type / key: a JSON string (or an integer, as the string kind reads it), else None."""
    if value is None:
        return None
    try:
        return CONVERTERS["string"](value)
    except _Invalid:
        return None


def structural_problem(item: Any) -> str | None:
    """Why an attribution object cannot be written (None: it can); the same words as the SQL form."""
    if type(item) is not dict:
        return f"expected an object, got {_quoted(item)}"
    role = _text(item.get("role"))
    kind = _text(item.get("attribution_type")) or role
    if role is None or (role, kind) not in VALID_PAIRS:
        return f"role {_quoted(item.get('role'))} with attribution_type {_quoted(item.get('attribution_type'))} is not a valid pair"
    key = _text(item.get("key")) or _text(item.get("idempotency_key"))
    if not key:
        return "key: missing or empty"
    return None


def attribution_rows(statement: dict, row: dict[str, Any], warnings: list[str]) -> list[list[Any]]:
    """Rows (COLUMN_NAMES order) for the statement's attributions; `row` is its raw_events row as a dict
    (timestamp as epoch ms). Problems are appended to `warnings`."""
    context = statement.get("context")
    extensions = context.get("extensions") if type(context) is dict else None
    items = extensions.get(ATTRIBUTIONS_KEY) if type(extensions) is dict else None
    if items is None:
        return []
    if type(items) is not list:
        warnings.append(f"{LABEL}: expected an array, got {_quoted(items)}")
        return []
    if len(items) > MAX_PER_STATEMENT:
        warnings.append(f"{LABEL}: {len(items)} attributions, more than {MAX_PER_STATEMENT}; none stored")
        return []
    out: list[list[Any]] = []
    for index, item in enumerate(items):
        problem = structural_problem(item)
        if problem is not None:
            warnings.append(f"{_where(index)}: {problem}")
            continue
        role = _text(item.get("role"))
        key = _text(item.get("key")) or _text(item.get("idempotency_key"))
        assert key is not None  # structural_problem refuses an item without a key
        key = key.strip()
        values: list[Any] = []
        scope: list[Any] = []
        for column in SCOPE_COLUMNS:
            raw = item.get(column)
            value = None
            if raw is not None:
                try:
                    value = CONVERTERS["uint64"](raw)
                except _Invalid:
                    warnings.append(f"{_where(index)}.{column}: expected {EXPECTED['uint64']}, got {_quoted(raw)}")
            scope.append(row[column] if value is None else value)
        for column, kind in VALUE_FIELDS:
            raw = item.get(column)
            if column in FALLBACK_KEYS:
                raw = raw or item.get(FALLBACK_KEYS[column])
            value = None
            if raw is not None:
                try:
                    value = CONVERTERS[kind](raw)
                except _Invalid:
                    warnings.append(f"{_where(index)}.{column}: expected {EXPECTED[kind]}, got {_quoted(raw)}")
                if kind == "string" and value is not None:
                    value = value.strip() or None
            if column == "assignment_scope" and value is None:
                value = DEFAULT_ASSIGNMENT_SCOPE
            values.append(value)
        out.append(
            [
                row["event_hash"],
                attribution_hash(row["event_hash"], key),
                row["source_file"],
                row["source_etag"],
                row["source_line"],
                row["event_type"],
                row["timestamp"],
                *scope,
                role,
                _text(item.get("attribution_type")) or role,
                *values,
            ]  # fmt: skip
        )
    return out


def may_name_attributions(line: bytes) -> bool:
    """Whether the line may hold the extension: its name appears, or a \\u escape could hide it."""
    return b"experiment_attributions" in line or b"\\u" in line


def statement_rows(line: bytes, row: dict[str, Any], warnings: list[str]) -> list[list[Any]]:
    """attribution_rows for a line already mapped to `row` (only lines naming the extension are parsed again)."""
    if not may_name_attributions(line):
        return []
    return attribution_rows(torus_json.loads(line), row, warnings)


# --- ClickHouse SQL ------------------------------------------------------------------------------------------------

_ABSENT = "('', 'null')"


def _sql_quoted(raw: str) -> str:
    """_quoted in SQL: the raw value (absent → null) as sql.warning_value names it."""
    return warning_value(f"if({raw} = '', 'null', {raw})")


def _sql_string(raw: str) -> str:
    """_text in SQL: Nullable(String)."""
    value, _valid = convert("string", raw)
    return f"if({raw} IN {_ABSENT}, NULL, {value})"


def _sql_item(query: Any) -> tuple[str, str]:
    """(items, per-line warnings prefix array): the extension's attribution texts when it is a valid array (else
    empty), and the extension-level warning, both as aliases of `query` (a xolap.xapi.sql._Query)."""
    ext = query.raw(PATH)
    is_array = f"startsWith({ext}, '[')"
    exact, line, at = query.by_position(PATH)  # a line whose numbers may spell differently when written again
    by_position = (
        f"arrayMap(n -> JSONExtractRaw({line}, {', '.join(at)}, toInt64(n)), "
        f"range(1, toUInt64(JSONLength(if({exact}, {ext}, ''))) + 1))"
    )
    all_items = query.alias(
        "_x_att_all",
        f"if({is_array}, if({exact}, {by_position}, JSONExtractArrayRaw({ext})), CAST([], 'Array(String)'))",
    )
    items = query.alias(
        "_x_att_items", f"if(length({all_items}) > {MAX_PER_STATEMENT}, CAST([], 'Array(String)'), {all_items})"
    )
    line_warnings = query.alias(
        "_x_att_line_warnings",
        f"multiIf({ext} NOT IN {_ABSENT} AND NOT {is_array}, [concat({quote(LABEL + ': expected an array, got ')}, {_sql_quoted(ext)})], "
        f"length({all_items}) > {MAX_PER_STATEMENT}, [concat({quote(LABEL + ': ')}, toString(length({all_items})), "
        f"{quote(f' attributions, more than {MAX_PER_STATEMENT}; none stored')})], CAST([], 'Array(String)'))",
    )
    return items, line_warnings


def _per_item(query: Any, body: str, extra: str = "") -> str:
    """`body` over (a: the attribution's raw text, i: its 1-based index, [extra params], ma: its key → raw value Map).
    Line-level aliases must reach a lambda as arguments (an alias first defined inside a lambda stays there); the
    ones read here are defined by _sql_item first. The Map is read from the line by position where a number may
    spell differently when written again (xolap.xapi.sql._level_by_index)."""
    exact, line, at = query.by_position(PATH)
    by_position = (
        f"CAST(arrayReverse(JSONExtractKeysAndValuesRaw({line}, {', '.join(at)}, toInt64(i))), 'Map(String, String)')"
    )
    item_map = f"if({exact}, {by_position}, {object_map('a')})"
    return f"(a, i{extra}) -> {bind('ma', [item_map], body)}"


def _identity_sql() -> str:
    """Tuple(key, role, attribution_type) of an attribution, over the _per_item parameters (NULL when absent)."""
    role, kind, key, old_key = (
        _sql_string(f"ma['{name}']") for name in ("role", "attribution_type", "key", "idempotency_key")
    )
    return bind("rt, kt, kk, ko", [role, kind, key, old_key],
                 "tuple(if(ifNull(kk, '') = '', ko, kk), rt, if(ifNull(kt, '') = '', rt, kt))")  # fmt: skip


def _problems(query: Any) -> str:
    """Array(String): per attribution, why it cannot be written ('' when it can), the words of structural_problem."""
    items, _line_warnings = _sql_item(query)
    pairs = ", ".join(f"('{r}', '{t}')" for r, t in sorted(VALID_PAIRS))
    quoted = f"arrayMap(r -> {_sql_quoted('r')}, [a, ma['role'], ma['attribution_type']])"
    body = bind(
        "id, qs", [_identity_sql(), quoted],
        "multiIf(NOT startsWith(a, '{'), concat('expected an object, got ', qs[1]), "
        f"(id.2 IS NULL) OR (tuple(ifNull(id.2, ''), ifNull(id.3, '')) NOT IN ({pairs})), "
        "concat('role ', qs[2], ' with attribution_type ', qs[3], ' is not a valid pair'), "
        "ifNull(id.1, '') = '', 'key: missing or empty', '')",
    )  # fmt: skip
    return query.alias("_x_att_problems", f"arrayMap({_per_item(query, body)}, {items}, arrayEnumerate({items}))")


_TYPED = [*((c, "uint64") for c in SCOPE_COLUMNS), *VALUE_FIELDS]


_SPACES = WHITESPACE_RE2


def _strip_sql(value: str) -> str:
    """str.strip() of a Nullable(String), an empty result NULL (Torus's `_safe_str`)."""
    return f"nullIf(replaceRegexpAll({value}, {quote(f'^{_SPACES}+|{_SPACES}+$')}, ''), '')"


def _item_raw(column: str) -> str:
    """The raw text a column is read from, over the _per_item parameters (FALLBACK_KEYS as attribution_rows)."""
    raw = f"ma[{quote(column)}]"
    if column in FALLBACK_KEYS:
        return f"if({raw} IN {FALSY}, ma[{quote(FALLBACK_KEYS[column])}], {raw})"
    return raw


def _value_warnings_sql() -> str:
    """Array(String) over the _per_item parameters: '.<column>: expected …, got <value>' per malformed value."""
    flags, raws, prefixes = [], [], []
    for column, kind in _TYPED:
        raw = _item_raw(column)
        _value, valid = convert(kind, raw)
        flags.append(f"({raw} NOT IN {_ABSENT} AND NOT ({valid}))")
        raws.append(raw)
        prefixes.append(quote(f".{column}: expected {EXPECTED[kind]}, got "))
    return bind(  # the flags written and computed once for both filters
        "vfs",
        [f"[{', '.join(flags)}]"],
        f"arrayMap((vr, vp) -> concat(vp, {_sql_quoted('vr')}), arrayFilter((vr, vf) -> vf, [{', '.join(raws)}], vfs), "
        f"arrayFilter((vp, vf) -> vf, [{', '.join(prefixes)}], vfs))",
    )


def warnings_sql(query: Any) -> str:
    """Array(String): the line's attribution warnings, in the order attribution_rows appends them."""
    items, line_warnings = _sql_item(query)
    problems = _problems(query)
    where = f"concat({quote(LABEL + '[')}, toString(i - 1), ']')"
    per_item = _per_item(
        query,
        f"if(pr != '', [concat({where}, ': ', pr)], arrayMap(x -> concat({where}, x), {_value_warnings_sql()}))",
        ", pr",
    )
    return query.alias(
        "_x_att_warnings",
        f"arrayConcat({line_warnings}, arrayFlatten(arrayMap({per_item}, {items}, arrayEnumerate({items}), {problems})))",
    )


TUPLE_COLUMNS: tuple[str, ...] = (
    "key",
    "experiment_role",
    "attribution_type",
    *SCOPE_COLUMNS,
    *(c for c, _ in VALUE_FIELDS),
)


def rows_sql(query: Any) -> str:
    """Array(Tuple(TUPLE_COLUMNS…)): one tuple per writable attribution (scope ids NULL where the attribution has
    none: the insert fills in the event's)."""
    items, _line_warnings = _sql_item(query)
    values = []
    for column, value_kind in _TYPED:
        raw = _item_raw(column)
        value, _valid = convert(value_kind, raw)
        value = f"if({raw} IN {_ABSENT}, NULL, {value})"
        if value_kind == "string":
            value = _strip_sql(value)
        if column == "assignment_scope":
            value = f"ifNull({value}, {quote(DEFAULT_ASSIGNMENT_SCOPE)})"
        values.append(value)
    item = _per_item(
        query,
        bind(
            "id",
            [_identity_sql()],
            f"tuple(ifNull({_strip_sql('id.1')}, ''), ifNull(id.2, ''), ifNull(id.3, ''), {', '.join(values)})",
        ),
    )
    return query.alias(
        "_x_att_rows",
        f"arrayFilter((t, p) -> p = '', arrayMap({item}, {items}, arrayEnumerate({items})), {_problems(query)})",
    )


def insert_from_stage_sql(target: str, stage: str, *, source_file: str, source_etag: str, source_line: str) -> str:
    """INSERT the attributions of a staging table's good rows (xolap.xapi.sql.staged_select_sql's `attributions`)."""
    scope = [f"ifNull(att.{4 + n}, {column})" for n, column in enumerate(SCOPE_COLUMNS)]
    values = [f"att.{4 + len(SCOPE_COLUMNS) + n}" for n in range(len(VALUE_FIELDS))]
    select = [
        "event_hash", "lower(hex(SHA256(concat(event_hash, ':', att.1))))", source_file, source_etag, source_line,
        "event_type", "timestamp", *scope, "att.2", "att.3", *values,
    ]  # fmt: skip
    return (
        f"INSERT INTO {target} ({', '.join(COLUMN_NAMES)}) SELECT {', '.join(select)} FROM {stage} "
        f"ARRAY JOIN attributions AS att WHERE NOT is_blank AND reason = ''"
    )
