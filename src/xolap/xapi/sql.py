"""The ClickHouse interpretation of the field specs: SELECT expressions, validity WHERE and rejection reasons.

Generated from xolap.xapi.fields, branch for branch the same rules as xolap.xapi.rows, so
`INSERT INTO raw_events (MAPPED_COLUMN_NAMES) SELECT <select_expressions()> FROM file|s3(…,'LineAsString','line String')
WHERE <not_blank_condition()> AND <valid_condition()>` gives exactly the rows the Python path gives
(tests/xapi/test_parity.py); insert_select_sql() builds that statement, rejected_lines_sql() selects the other
lines with their reasons (ingest_errors columns), flagged_rows_sql() does blanks + rejections of one file in a scan.

Read lines with the LineAsString format (not JSONAsString): the hash needs each line exactly as written and a
malformed line must reach the validity check instead of failing the whole read. Each JSON object level read is
parsed once into a Map of raw values (a level only passed through, e.g. context, is skipped: _level); helpers are
named `_x_*` (stable names, defined inline at first use, so every expression list is self-contained and lists
generated separately compose). A leaf is converted from its raw
JSON text the way rows.py converts the parsed value.

Duplicate keys: ClickHouse's JSONExtract* keep the first, Python's parsers the last; every object level is read
into a Map from its key/value pairs reversed, so the last one wins here too. Text columns are spelled by
torus_json.dumps_sql (Python json.dumps defaults, as Torus writes them). A malformed value of an optional field
is NULL and gives a warning (warnings()); only REJECTING_FIELDS give a rejection reason (reason()).

Number spellings: ClickHouse writes a number out again each time a value is taken from the JSON it parsed, and two
spellings change on the second writing: -0.0 (-0, then 0) and a whole float beyond 64-bit integers (1e20: its
digits, then a string of them). A level parsed from its parent's raw text has its values written twice, so on a line
that may hold such a number (_may_respell: a cheap regex over the line) every level, response input, language map
entry and attribution is read from the line itself by position instead (_level_by_index: each value written once,
as the top level's are, which Python's reading matches). tests/xapi/test_sql_number_spellings.py. The file
path screens every line the cheap way first (staged_select_sql by_position=False, no per-line choice) and stages
only the lines may_respell_condition() finds again read by position (xolap.ingest.files._screen).

Known differences, all on values no producer sends: a duplicated key inside an object written as JSON text (kept
twice here, once in Python; why: docs/torus-compatibility.md); a whole float beyond 2^53 below 1e21 (e.g.
1.8446744073709552e19) taken as an integer: ClickHouse writes its shortest digits padded with zeros
(18446744073709552000), Python the double's exact integer (18446744073709551616), in UInt64 columns, text
spellings and warnings; the SQL engine cannot tell those digits from an integer written so (no JSON function
returns a number's text as written), and the Python engine is the reference.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES
from xolap.xapi import attributions
from xolap.xapi import fields as spec
from xolap.xapi.fields import Field
from xolap.xapi.rows import invalid_reason, missing_reason
from xolap.xapi.sql_values import (  # noqa: F401 - re-exported: the mapping's public SQL pieces
    DEFAULT_LINE_COLUMN,
    FALSY,
    LINE_FORMAT,
    NULLISH,
    OBJECT_START,
    QUERY_SETTINGS,
    convert,
    not_blank_condition,
    object_map,
    quote,
    text_of,
    warning_value,
)

_ALIAS_RE = re.compile(r"\b_x_[A-Za-z0-9_]+\b")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")  # a key ClickHouse spells in raw JSON text exactly as it is


def _levels_read() -> frozenset[tuple[str, ...]]:
    """The object levels whose own keys the mapping reads: the top level and the parent of every field source and of
    the attributions. The other levels on the way down (context: only its extensions are read) are skipped."""
    paths = [source.path for field in spec.FIELDS for source in field.sources] + [spec.ATTRIBUTIONS_PATH]
    return frozenset([(), *(path[:-1] for path in paths)])


LEVELS_READ = _levels_read()


def _path_id(path: tuple[str, ...]) -> str:
    """A stable name part for a JSON path, so separately generated expression lists agree on every helper."""
    return hashlib.sha1("\x00".join(path).encode()).hexdigest()[:10]


class _Query:
    """Builds one query's expressions over named helper expressions (`_x_*`), then renders them so each helper is
    defined inline (`(expr AS name)`) exactly once, at its first use, and referenced by name afterwards."""

    def __init__(
        self,
        line_column: str,
        *,
        maps_as_columns: bool = False,
        event_type_column: str | None = None,
        by_position: bool = True,
    ):
        self.line_column = line_column
        # False: every level is read from its anchor's text, right only for lines where _may_respell is 0 (the caller
        # maps the others apart); no per-line choice, so no by-position branch is computed beside every level
        self.levels_by_position = by_position
        self.event_type_column = event_type_column  # a column already holding the event type (a staged line's)
        self.defs: dict[str, str] = {}
        self.json_raws: list[str] = []  # raw values of text columns, spelled by one shared arrayMap (_x_json)
        self.emitted: set[str] = set()
        self.maps_as_columns = maps_as_columns
        self.map_paths: list[tuple[str, ...]] = []  # with maps_as_columns: the object levels read, parents first

    def alias(self, name: str, expression: str) -> str:
        self.defs.setdefault(name, expression)
        return name

    def json_text(self, raw: str) -> str:
        """text_of(raw), computed with every other text column's in one arrayMap: the Torus spelling expression
        then appears once in the query (it is large: planning time grows with the expression tree)."""
        if raw not in self.json_raws:
            self.json_raws.append(raw)
        return f"_x_json[{self.json_raws.index(raw) + 1}]"

    def render(self, text: str) -> str:
        """Text with helper names expanded: the first use in this query defines, later uses refer."""

        if self.json_raws:
            self.defs["_x_json"] = f"arrayMap(r -> {text_of('r')}, [{', '.join(self.json_raws)}])"

        def expand(match: re.Match[str]) -> str:
            name = match.group(0)
            if name not in self.defs or name in self.emitted:
                return name
            self.emitted.add(name)
            return f"({self.render(self.defs[name])} AS {name})"

        rendered = _ALIAS_RE.sub(expand, text)
        return f"identity({rendered})" if text in self.defs else rendered

    # -- input line ------------------------------------------------------------------------------------------
    def line(self) -> str:
        """The line as stored and hashed: the line read without one trailing CR (one copy of the text: an if() over
        the stripped and the read line, both evaluated eagerly, made two)."""
        col = self.line_column
        return self.alias("_x_line", f"substring({col}, 1, length({col}) - endsWith({col}, '\\r'))")

    def _map(self, path: tuple[str, ...]) -> str:
        name = f"_x_m_{_path_id(path)}"
        if self.maps_as_columns:  # a column of the inner query (map_columns), not an alias
            if path not in self.map_paths:
                if path:
                    self._map(_anchor(path))
                self.map_paths.append(path)
            return name
        if not path:
            return self.alias(name, object_map(self.line_column))  # a trailing CR is JSON whitespace: no copy
        by_index = _level_by_index(path, self._exact(), self.line_column, self._map)
        return self.alias(name, f"if({self._exact()}, {by_index}, {_level(path, self._map(_anchor(path)))})")

    def _exact(self) -> str:
        """0/1: the line may hold a number ClickHouse spells differently when it writes it again (_may_respell)."""
        if not self.levels_by_position:
            return "0"
        return "_x_exact" if self.maps_as_columns else self.alias("_x_exact", _may_respell(self.line_column))

    def by_position(self, path: tuple[str, ...]) -> tuple[str, str, list[str]]:
        """(exact, line, positions): for a line where `exact` is 1, JSONExtract*(line, *positions) reads the value at
        `path` with every number spelled once (see _level_by_index); `line` is '' on the other lines."""
        exact = self._exact()
        return exact, f"if({exact}, {self.line_column}, '')", _indices(path, exact, self.line_column, self._map)

    def _entry(self, path: tuple[str, ...], entries: str, key: str) -> str:
        """The raw text of the entry `key` (an expression) of the object at `path`, whose Map is `entries`: read from
        the line by position where the line may hold a number spelled differently when written again."""
        exact = self._exact()
        if not self.levels_by_position:
            return f"{entries}[{key}]"
        indices = [*_indices(path, exact, self.line_column, self._map), f"-toInt64(indexOf(mapKeys({entries}), {key}))"]
        return (
            f"if({exact}, JSONExtractRaw(if({exact}, {self.line_column}, ''), {', '.join(indices)}), {entries}[{key}])"
        )

    def map_columns(self) -> list[str]:
        """With maps_as_columns: `<Map of one object level> AS _x_m_…` for every level read, parents first, for an
        inner query that reads the line column. The outer expressions then refer to columns: ClickHouse's analyzer
        copies an alias's whole expression tree at every reference, and the nested Maps are most of each tree
        (planning 0.44 -> 0.30 s CPU for the screen, measured)."""
        line = self.line_column
        out = [f"{_may_respell(line)} AS _x_exact"] if self.map_paths and self.levels_by_position else []
        for path in self.map_paths:  # the top level from the line as read: a trailing CR is JSON whitespace
            if path and not self.levels_by_position:
                level = _level(path, f"_x_m_{_path_id(_anchor(path))}")
            elif path:
                by_index = _level_by_index(path, "_x_exact", line, lambda p: f"_x_m_{_path_id(p)}")
                level = f"if(_x_exact, {by_index}, {_level(path, f'_x_m_{_path_id(_anchor(path))}')})"
            else:
                level = object_map(line)
            out.append(f"{level} AS _x_m_{_path_id(path)}")
        return out

    def raw(self, path: tuple[str, ...]) -> str:
        """The raw JSON text at path ('' when absent), as a short alias."""
        name = f"_x_r_{_path_id(path)}"
        return self.alias(name, f"{self._map(path[:-1])}[{quote(path[-1])}]")

    def _source(self, field: Field, index: int) -> tuple[str, str, str]:
        """(present, value, valid) aliases for one source of a field."""
        source = field.sources[index]
        key = f"{field.column}_{index}"
        raw = self.raw(source.path)
        truthy = field.fallback == "truthy" and index < len(field.sources) - 1
        condition = f"{raw} NOT IN {FALSY if truthy else NULLISH}"
        scope = source.only_for or field.only_for
        if scope is not None:
            condition += f" AND {self.event_type()} IN ({', '.join(quote(t) for t in scope)})"
        present = self.alias(f"_x_p_{key}", f"({condition})")
        value, valid = convert(
            field.kind,
            raw,
            lambda n, e: self.alias(f"_x_{n}_{key}", e),
            self.json_text,
            lambda entries, entry_key: self._entry(source.path, entries, entry_key),
        )
        return (
            present,
            self.alias(f"_x_c_{key}", value),
            valid if valid == "1" else self.alias(f"_x_ok_{key}", f"({valid})"),
        )

    # -- classification ------------------------------------------------------------------------------------
    def event_type(self) -> str:
        if self.event_type_column is not None:
            return self.event_type_column
        verb = self.field_value(spec.FIELDS_BY_COLUMN["verb_id"])
        otype = self.field_value(spec.FIELDS_BY_COLUMN["object_type"])
        branches = []
        for event_type, verbs, wanted_type in spec.EVENT_TYPE_RULES:
            condition = f"{verb} IN ({', '.join(quote(v) for v in verbs)})"
            if wanted_type is not None:
                condition += f" AND {otype} = {quote(wanted_type)}"
            branches.append(f"ifNull({condition}, 0), {quote(event_type)}")
        return self.alias("_x_event_type", f"multiIf({', '.join(branches)}, {quote(spec.UNKNOWN_EVENT_TYPE)})")

    # -- fields ----------------------------------------------------------------------------------------------
    def field_value(self, field: Field) -> str:
        name = f"_x_v_{field.column}"
        if name in self.defs:
            return name
        branches = []
        for index in range(len(field.sources)):
            present, value, _valid = self._source(field, index)
            branches.append(f"{present}, {value}")
        return self.alias(name, f"multiIf({', '.join(branches)}, NULL)")

    def _invalid_sources(self, field: Field) -> list[tuple[str, int, str]]:
        """(condition, source index, reason) for each source whose value, when it is the one taken, is malformed."""
        out: list[tuple[str, int, str]] = []
        earlier: list[str] = []
        for index, source in enumerate(field.sources):
            present, _value, valid = self._source(field, index)
            if valid != "1":
                guard = " AND ".join([f"NOT {p}" for p in earlier] + [present, f"NOT {valid}"])
                out.append((guard, index, invalid_reason(field, source)))
            earlier.append(present)
        return out

    def field_problem(self, field: Field) -> list[str]:
        """multiIf branch pairs (condition, reason literal) that reject the line for this field."""
        if field.column not in spec.REJECTING_FIELDS and field.column not in spec.REQUIRED_FIELDS:
            return []
        pairs = [f"{guard}, {quote(reason)}" for guard, _index, reason in self._invalid_sources(field)]
        if field.column in spec.REQUIRED_FIELDS:
            earlier = [self._source(field, index)[0] for index in range(len(field.sources))]
            pairs.append(f"{' AND '.join(f'NOT {p}' for p in earlier)}, {quote(missing_reason(field))}")
        return pairs

    def _warning_sources(self) -> tuple[list[str], list[str], list[str]]:
        """(condition, raw value, message prefix) lists: one per way an optional value can be malformed."""
        guards, raws, prefixes = [], [], []
        for field in spec.FIELDS:
            if field.column in spec.REJECTING_FIELDS:
                continue
            for guard, index, reason in self._invalid_sources(field):
                guards.append(f"({guard})")
                identity = field.column in spec.IDENTITY_FIELDS
                raws.append("''" if identity else self.raw(field.sources[index].path))
                prefixes.append(quote(reason if identity else f"{reason}, got "))
        return guards, raws, prefixes

    def needs_details(self) -> tuple[list[str], str]:
        """(columns, condition): the condition is true for a line that may have warnings or experiment attributions,
        over the columns of a query that selects the staged columns and `columns` (so it is planned apart from the
        column expressions: referring to their aliases in the same query made the analyzer copy every tree again,
        half of the screen's planning). A field's value can only be malformed when the source taken is present and
        converts to NULL, so the line is flagged when a field that can be malformed is NULL while one of those
        sources is present (not absent or null; some valid values, e.g. "" or a falsy first choice, only cost their
        line a detail pass); or when the attributions extension's name may be in the line (literally, or behind a
        \\u escape; the Python path's test). Written with greatest/least of 0/1 values: the same condition as a
        chain of OR over AND took the analyzer ~9 ms a term to plan (measured in chDB 26.9), greatest/least ~1."""
        columns, conditions = [], []
        for field in spec.FIELDS:
            if field.column in spec.REJECTING_FIELDS:
                continue
            present = []
            for index, source in enumerate(field.sources):
                if self._source(field, index)[2] == "1":  # a value of this source is never malformed
                    continue
                name = f"_x_np_{field.column}_{index}"
                columns.append(f"({self.raw(source.path)} NOT IN {NULLISH}) AS {name}")
                scope = source.only_for or field.only_for
                in_scope = f"event_type IN ({', '.join(quote(t) for t in scope)})" if scope else None
                present.append(f"least({name}, {in_scope})" if in_scope else name)
            if present:
                anyone = present[0] if len(present) == 1 else f"greatest({', '.join(present)})"
                conditions.append(f"least(isNull({field.column}), {anyone})")
        columns.append(f"{self.line_column} AS _x_read_line")
        return columns, f"greatest({', '.join([*conditions, *_may_name_attributions('_x_read_line')])})"

    def warnings(self) -> str:
        """Array(String): the warning of each malformed optional value, in field order (rows.warning_text's words).
        Only the failing values are spelled (arrayMap over the filtered ones), so good lines cost three arrays."""
        guards, raws, prefixes = self._warning_sources()
        flags = self.alias("_x_warn_flags", f"[{', '.join(guards)}]")
        fields = (
            f"arrayMap((wr, wp) -> if(wr = '', wp, concat(wp, {warning_value('wr')})), "
            f"arrayFilter((wr, wf) -> wf, [{', '.join(raws)}], {flags}), arrayFilter((wp, wf) -> wf, [{', '.join(prefixes)}], {flags}))"
        )
        return self.alias("_x_warnings", f"arrayConcat({fields}, {attributions.warnings_sql(self)})")

    def attributions(self) -> str:
        """Array of the line's experiment attribution tuples (xolap.xapi.attributions.rows_sql)."""
        return attributions.rows_sql(self)

    # -- whole-row checks -------------------------------------------------------------------------------------
    def reason(self) -> str:
        """'' for a good line, else the first problem (same order and words as rows.build_row)."""
        line = self.line()
        # A line whose top-level Map has entries parsed as JSON (the same parser checks the whole document): only the
        # others are handed to isValidJSON, the rest get '{}' (evaluated eagerly, a full second parse cost 6% of
        # the screen's CPU).
        doubtful = f"if(empty({self._map(())}), {line}, '{{}}')"
        pairs = [
            f"NOT isValidJSON({doubtful}) OR startsWith({line}, unhex('EFBBBF')), 'not valid JSON'",  # a BOM: as orjson
            f"NOT match({line}, {OBJECT_START}), 'not a JSON object'",
        ]
        for key in spec.REQUIRED_OBJECTS:
            pairs.append(f"NOT startsWith({self.raw((key,))}, '{{'), {quote(f'{key}: missing or not an object')}")
        for field in spec.FIELDS:
            pairs.extend(self.field_problem(field))
        return self.alias("_x_reason", f"multiIf({', '.join(pairs)}, '')")

    def column(self, column: str, source_file: str, source_etag: str, source_line: str) -> str:
        if column == "event_type":
            return self.event_type()
        if column == "event_hash":
            return f"lower(hex(SHA256({self.line()})))"  # the line as stored (xolap.xapi.identity)
        if column == "source_file":
            return source_file
        if column == "source_etag":
            return source_etag
        if column == "source_line":
            return source_line
        field = spec.FIELDS_BY_COLUMN[column]
        value = self.field_value(field)
        if column == "timestamp":
            return f"assumeNotNull({value})"
        return value


def _anchor(path: tuple[str, ...]) -> tuple[str, ...]:
    """The level a (non-top) level's Map is read from: its parent, or above it past levels the mapping does not
    read (LEVELS_READ) when the keys below them are plain."""
    anchor = path[:-1]
    while anchor and anchor not in LEVELS_READ and _PLAIN_KEY.fullmatch(path[len(anchor)]):
        anchor = anchor[:-1]
    return anchor


def _level(path: tuple[str, ...], anchor_map: str) -> str:
    """The Map of the object level at `path` from the Map of its _anchor.

    From the parent: the parent's raw value parsed. Past skipped levels: the anchor's raw value with the remaining
    keys followed by ClickHouse (one parse, and the skipped level's values are not spelled as text and parsed again:
    0.82 -> 0.59 s CPU for context.extensions on 100k bench lines). The values are the same: ClickHouse's raw
    spelling is stable from the second one on (-0.0 -> -0 -> 0, 1e20 -> 100000000000000000000 -> a string of those
    digits, then unchanged), and the anchor's values are spelled at least once (a line where the second spelling
    differs from the first reads its levels by _level_by_index instead). ClickHouse follows the FIRST of
    duplicate keys, the mapping the last: a key written more than once in the raw text (counted as `"key":`, which
    raw spelling writes once for each occurrence of the key, and perhaps inside other keys and strings) takes the
    level-by-level way instead (on an empty text for the other lines)."""
    anchor = _anchor(path)
    text = f"{anchor_map}[{quote(path[len(anchor)])}]"
    keys = path[len(anchor) + 1 :]
    if not keys:
        return object_map(text)
    unique = " AND ".join(f"countSubstrings({text}, {quote(chr(34) + key + chr(34) + ':')}) <= 1" for key in keys)
    by_level = f"if({unique}, '', {text})"
    for key in keys:
        by_level = f"{object_map(by_level)}[{quote(key)}]"
    followed = object_map(f"if({unique}, {text}, '')", keys)
    return f"if({unique}, {followed}, {object_map(by_level)})"


# A number token ClickHouse spells differently each time it writes the value out again: -0.0 (written -0, then 0;
# also a negative number rounding to zero) and a whole float beyond 64-bit integers (1e20: written as its digits,
# then as a string of them; Python takes it as the integer). Such a token has a '-0.', an exponent, or 19+ digits
# before a '.'. A line where this finds nothing (it may also find text in strings) holds none.
_RESPELLED_NUMBER = quote("[:,\\[][ \\t\\n\\r]*(-0[.]|-?[0-9]+([.][0-9]+)?[eE]|-?[0-9]{19,}[.])")


def _may_respell(line: str) -> str:
    """0/1: the line may hold a number whose spelling changes when ClickHouse writes it a second time (see
    _level_by_index). Matched by Hyperscan (multiMatchAny): RE2 (match) cost ~0.2 s CPU a 100k-line screen, ~0.1.
    Where the server's profile sets allow_hyperscan = 0 (multiMatchAny then fails the whole ingest), RE2's match:
    the analyzer folds the constant condition, so only one of the two is planned and run."""
    return (
        f"if(getSetting('allow_hyperscan'), multiMatchAny({line}, [{_RESPELLED_NUMBER}]), "
        f"match({line}, {_RESPELLED_NUMBER}))"
    )


def may_respell_condition(line_column: str = DEFAULT_LINE_COLUMN) -> str:
    """0/1: the line may hold a number ClickHouse spells differently when written again (see _may_respell): such a
    line must be mapped with by_position (staged_select_sql)."""
    return _may_respell(line_column)


def _level_by_index(path: tuple[str, ...], exact: str, line: str, map_of: Callable[[tuple[str, ...]], str]) -> str:
    """The Map of the object level at `path` read from the line itself, each key on the way followed by its position
    (the last of duplicate keys, negative: counted from the end), for a line where `exact` is 1 ('' read otherwise).

    Every value is then spelled once, as the top level's are: a level parsed from its parent's raw text has values
    written twice, and -0.0 (-0, then 0) and whole floats beyond 64-bit integers (digits, then a string of digits)
    change on the second writing. The positions come from the Maps of the levels read (keys last first) or, for a
    level only passed through, from its keys."""
    indices = _indices(path, exact, line, map_of)
    return f"CAST(arrayReverse(JSONExtractKeysAndValuesRaw(if({exact}, {line}, ''), {', '.join(indices)})), 'Map(String, String)')"


def _indices(path: tuple[str, ...], exact: str, line: str, map_of: Callable[[tuple[str, ...]], str]) -> list[str]:
    """The position of each key of `path` in its object (the last of duplicate keys, counted from the end; 0 where
    absent, which finds nothing), for JSONExtract* reading the line (see _level_by_index)."""
    indices: list[str] = []
    for depth, key in enumerate(path):
        parent = path[:depth]
        if parent in LEVELS_READ:
            keys = f"mapKeys({map_of(parent)})"
        else:
            keys = f"arrayReverse(JSONExtractKeys(if({exact}, {line}, ''), {', '.join(indices)}))"
        indices.append(f"-toInt64(indexOf({keys}, {quote(key)}))")
    return indices


def _may_name_attributions(line: str) -> list[str]:
    """0/1 conditions, one true when the attributions extension's name may be in the line (literally, or behind a
    \\u escape: the Python path's test); a line where none is true has no attributions."""
    return [f"position({line}, {quote(text)}) > 0" for text in (attributions.LABEL, chr(92) + "u")]


# --- public API --------------------------------------------------------------------------------------------------


def select_expressions(
    line_column: str = DEFAULT_LINE_COLUMN,
    *,
    source_file_expr: str = "_path",
    source_etag_expr: str = "NULL",
    source_line_expr: str = "toUInt32(_row_number + 1)",
) -> list[str]:
    """The SELECT list, in MAPPED_COLUMN_NAMES order, that maps a LineAsString column to raw_events values.

    Self-contained (helper aliases are defined inline); pair it with `valid_condition(line_column)` in the same
    query's WHERE so bad lines are not inserted. source_line_expr must count non-empty lines (see
    `source_line_expression`)."""
    query = _Query(line_column)
    columns = [query.column(c, source_file_expr, source_etag_expr, source_line_expr) for c in MAPPED_COLUMN_NAMES]
    return [query.render(c) for c in columns]


def valid_condition(line_column: str = DEFAULT_LINE_COLUMN) -> str:
    """A WHERE condition true for lines that map to a row (self-contained: use it in a query of its own, or use
    insert_select_sql, which shares the helpers between SELECT and WHERE)."""
    query = _Query(line_column)
    return f"{query.render(query.reason())} = ''"


def source_line_expression(
    blank_rows: Sequence[int] | Mapping[str, Sequence[int]] = (),
    row_number_column: str = "_row_number",
    path_column: str = "_path",
) -> str:
    """1-based index among non-empty lines, from the 0-based physical row number and the blank rows' numbers
    (for one file; or, for a glob over several files, a mapping path → blank rows, looked up by `_path`)."""
    if isinstance(blank_rows, Mapping):
        files = {path: sorted(int(r) for r in rows) for path, rows in blank_rows.items() if rows}
        if not files:
            return f"toUInt32({row_number_column} + 1)"
        entries = ", ".join(f"{quote(path)}, [{', '.join(map(str, rows))}]" for path, rows in files.items())
        blanks = f"CAST(map({entries}), 'Map(String, Array(UInt64))')[{path_column}]"
        return f"toUInt32({row_number_column} + 1 - arrayCount(b -> b < {row_number_column}, {blanks}))"
    if not blank_rows:
        return f"toUInt32({row_number_column} + 1)"
    listed = ", ".join(str(int(r)) for r in sorted(blank_rows))
    return f"toUInt32({row_number_column} + 1 - arrayCount(b -> b < {row_number_column}, [{listed}]))"


def insert_select_sql(
    target_table: str,
    source: str,
    *,
    line_column: str = DEFAULT_LINE_COLUMN,
    source_file_expr: str = "_path",
    source_etag_expr: str = "NULL",
    source_line_expr: str = "toUInt32(_row_number + 1)",
    known_bad_rows: Sequence[int] | None = None,
    row_number_column: str = "_row_number",
) -> str:
    """`INSERT INTO target (cols) SELECT … FROM source WHERE <non-empty and valid>`; source is a table function
    reading LineAsString, e.g. `file('x.jsonl', 'LineAsString', 'line String')`.

    known_bad_rows: when a flagged_rows_sql scan of this one file already found the blank and rejected rows,
    skip exactly those rows instead of re-checking every field (the validity checks are half the work)."""
    query = _Query(line_column)
    columns = [query.column(c, source_file_expr, source_etag_expr, source_line_expr) for c in MAPPED_COLUMN_NAMES]
    reason = query.reason() if known_bad_rows is None else None
    expressions = [query.render(c) for c in columns]  # SELECT first: WHERE may use its aliases, not vice versa
    if reason is not None:
        where = f"{not_blank_condition(line_column)} AND {query.render(reason)} = ''"
    elif known_bad_rows:
        where = f"{row_number_column} NOT IN ({', '.join(str(int(r)) for r in sorted(known_bad_rows))})"
    else:
        where = "1"
    return (
        f"INSERT INTO {target_table} ({', '.join(MAPPED_COLUMN_NAMES)}) SELECT {', '.join(expressions)} FROM {source} "
        f"WHERE {where} {QUERY_SETTINGS}"
    )


def rejected_lines_sql(
    source: str,
    *,
    line_column: str = DEFAULT_LINE_COLUMN,
    source_file_expr: str = "_path",
    source_line_expr: str = "toUInt32(_row_number + 1)",
) -> str:
    """SELECT source_file, source_line, reason, raw_line for every non-empty line the insert would skip
    (the columns of ingest_errors, so a backfill can `INSERT INTO ingest_errors (…) <this>`)."""
    query = _Query(line_column)
    reason, line = query.render(query.reason()), query.render(query.line())
    return (
        f"SELECT {source_file_expr} AS source_file, {source_line_expr} AS source_line, {reason} AS reason, "
        f"{line} AS raw_line FROM {source} WHERE {not_blank_condition(line_column)} AND reason != '' {QUERY_SETTINGS}"
    )


def warned_lines_sql(
    source: str,
    *,
    line_column: str = DEFAULT_LINE_COLUMN,
    source_file_expr: str = "_path",
    source_line_expr: str = "toUInt32(_row_number + 1)",
) -> str:
    """SELECT source_file, source_line, reason, raw_line: one row per warning of every stored line (a malformed
    optional value stored NULL), the ingest_errors columns for severity 'warning'."""
    query = _Query(line_column)
    reason, warnings, line = query.render(query.reason()), query.render(query.warnings()), query.render(query.line())
    return (
        f"SELECT {source_file_expr} AS source_file, {source_line_expr} AS source_line, warning AS reason, "
        f"{line} AS raw_line FROM {source} ARRAY JOIN {warnings} AS warning "
        f"WHERE {not_blank_condition(line_column)} AND {reason} = '' {QUERY_SETTINGS}"
    )


def flagged_rows_sql(
    source: str, *, line_column: str = DEFAULT_LINE_COLUMN, row_number_column: str = "_row_number"
) -> str:
    """One scan for a single file: (row number, is blank, reason, raw line) of every blank or rejected line, in
    file order. The blank rows give source_line_expression; the rest are the rejections."""
    query = _Query(line_column)
    blank = f"NOT ({not_blank_condition(line_column)})"
    reason, line = query.render(query.reason()), query.render(query.line())
    return (
        f"SELECT {row_number_column} AS row_number, {blank} AS is_blank, if(is_blank, '', {reason}) AS reason, "
        f"if(is_blank, '', {line}) AS raw_line FROM {source} WHERE is_blank OR reason != '' ORDER BY row_number {QUERY_SETTINGS}"
    )


def blank_rows_sql(source: str, *, line_column: str = DEFAULT_LINE_COLUMN) -> str:
    """The 0-based row numbers of blank lines (feed them to source_line_expression)."""
    return f"SELECT _row_number FROM {source} WHERE NOT ({not_blank_condition(line_column)}) ORDER BY _row_number"


PROVENANCE_COLUMNS = ("source_file", "source_etag", "source_line")
STAGED_COLUMNS = tuple(c for c in MAPPED_COLUMN_NAMES if c not in PROVENANCE_COLUMNS)

# The type of a field's value in the mapping SELECT, by its kind (sql_values.convert's expressions).
_KIND_TYPES = {
    "string": "Nullable(String)", "text": "Nullable(String)", "response": "Nullable(String)",
    "lang_map": "Nullable(String)", "uint64": "Nullable(UInt64)", "uint32": "Nullable(UInt32)",
    "count": "Nullable(UInt32)", "float64": "Nullable(Float64)", "bool": "Nullable(Bool)",
}  # fmt: skip
_COMPUTED_TYPES = {"event_type": "String", "event_hash": "String", "timestamp": "DateTime64(3, 'UTC')"}


def screened_stage_columns(extra_columns: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """(name, type) of the columns of staged_select_sql(details=False), in its order, for a staging table created
    with them and filled by `INSERT INTO stage (names) <that select>`: CREATE TABLE … AS SELECT analysed the mapping
    SELECT twice, once more for the table's structure (4 SELECT analyses instead of 3, about twice the analysis
    time, measured in chDB 26.9); that analysis is most of a small file's cost. extra_columns: (name, type) of the
    select's extra_columns, in their order (their types are the source's: the caller knows them).
    tests/ingest/test_stage_analysis.py and tests/backfill/test_chunk_stage_analysis.py check these are the types
    ClickHouse gives the SELECT's columns."""
    values = [(c, _COMPUTED_TYPES.get(c) or _KIND_TYPES[spec.FIELDS_BY_COLUMN[c].kind]) for c in STAGED_COLUMNS]
    return [
        ("row_number", "UInt64"), ("is_blank", "UInt8"), *values, ("reason", "String"), ("raw_line", "String"),
        *extra_columns, ("needs_details", "UInt8"), ("detail_line", "String"),
    ]  # fmt: skip


def staged_select_sql(
    source: str,
    *,
    line_column: str = DEFAULT_LINE_COLUMN,
    row_number_column: str = "_row_number",
    where: str = "1",
    details: bool = True,
    extra_columns: Sequence[str] = (),
    by_position: bool = True,
) -> str:
    """One parse of every line: SELECT row_number, is_blank, the STAGED_COLUMNS (raw_events values, provenance
    left out), reason ('' for a good line), warnings (of a stored row's malformed optional values), attributions
    and raw_line (only for a rejected or warned line), for a staging table from which good rows go to raw_events
    and the rest to ingest_errors (instead of a flagged_rows_sql scan, then an insert).

    details=False screens instead: no warnings or attributions columns (their expressions are most of the
    query's planning time, seconds on a busy machine, and of its work per line) but `needs_details` (the
    warnings and attributions can only be non-empty on such a line) and `detail_line` (the line as read, for
    those good lines only): detail_select_sql() computes both for those lines. extra_columns are
    appended to the SELECT list (e.g. a backfill's `_path AS path`).

    The object levels' Maps are read by an inner query (with the row number, the extra columns and `where`, so
    the source's virtual columns are read there), the rest of the mapping over its columns (_Query.map_columns).

    by_position=False reads every level from its parent's text with no per-line choice: right only for the lines
    where may_respell_condition() is 0, so the caller stages the others again with by_position=True (on clean
    files the choice's by-position branch, computed beside every level of every line, was ~10% of the screen)."""
    query = _Query(line_column, maps_as_columns=True, by_position=by_position)
    columns = [query.column(c, "NULL", "NULL", "NULL") for c in STAGED_COLUMNS]
    expressions = [f"{query.render(e)} AS {c}" for e, c in zip(columns, STAGED_COLUMNS, strict=True)]
    reason, line = query.render(query.reason()), query.render(query.line())
    if details:
        warnings, found = query.render(query.warnings()), query.render(query.attributions())
        rest = (
            f"if(is_blank OR reason != '', CAST([], 'Array(String)'), {warnings}) AS warnings, "
            f"arrayFilter(t -> NOT (is_blank OR reason != ''), {found}) AS attributions, "
            f"if(reason = '' AND empty(warnings), '', {line}) AS raw_line"
        )
    else:
        flags, needs = query.needs_details()
        rest = f"if(reason = '', '', {line}) AS raw_line, {', '.join(query.render(f) for f in flags)}"
    extra = "".join(f", {_column_name(c)}" for c in extra_columns)
    inner = ", ".join([line_column, row_number_column, *extra_columns, *query.map_columns()])
    select = (
        f"SELECT {row_number_column} AS row_number, NOT ({not_blank_condition(line_column)}) AS is_blank, "
        f"{', '.join(expressions)}, if(is_blank, '', {reason}) AS reason, {rest}{extra} "
        f"FROM (SELECT {inner} FROM {source} WHERE {where})"
    )
    if details:
        return f"{select} {QUERY_SETTINGS}"
    helpers = ", ".join(f.rsplit(" AS ", 1)[1] for f in flags)
    return (
        f"SELECT * EXCEPT ({helpers}), NOT is_blank AND reason = '' AND {needs} AS needs_details, "
        f"if(needs_details, _x_read_line, '') AS detail_line FROM ({select}) {QUERY_SETTINGS}"
    )


def _column_name(column: str) -> str:
    """The name an extra column (`expr AS name`, or a plain column name) has in the inner query."""
    return column.rsplit(" AS ", 1)[-1].strip()


# The staged columns a detail pass carries over from the screened stage (what the attributions insert reads).
DETAIL_CARRIED_COLUMNS = ("row_number", "is_blank", "reason", "event_hash", "event_type", "timestamp",
                          *attributions.SCOPE_COLUMNS)  # fmt: skip


def detail_select_sql(stage: str, extra_columns: Sequence[str] = ()) -> str:
    """The detail pass over a screened stage (staged_select_sql(details=False)): for its lines flagged needs_details
    (good lines only), the DETAIL_CARRIED_COLUMNS and extra_columns as staged, plus `warnings`, `attributions` and
    `raw_line` ('' unless warned), as staged_select_sql(details=True) gives them for those lines. A bare SELECT:
    the statement reading it carries MAPPING_SETTINGS (QUERY_SETTINGS) at its own top level.

    Only those three are computed: the values, the rejection reason and the event type were staged by the screen
    (the same expressions over the same line), so the detail SQL is a fraction of the full select's, whose
    planning cost seconds of CPU per file or backfill chunk with a single flagged line."""
    query = _Query(DEFAULT_LINE_COLUMN, maps_as_columns=True, event_type_column="event_type")
    warnings, found, line = (query.render(e) for e in (query.warnings(), query.attributions(), query.line()))
    carried = [*DETAIL_CARRIED_COLUMNS, *extra_columns]
    inner = ", ".join([f"detail_line AS {DEFAULT_LINE_COLUMN}", *carried, *query.map_columns()])
    return (
        f"SELECT {', '.join(carried)}, {warnings} AS warnings, {found} AS attributions, "
        f"if(empty(warnings), '', {line}) AS raw_line FROM (SELECT {inner} FROM {stage} WHERE needs_details)"
    )


def detail_counts_sql(stage: str) -> str:
    """(lines needing details, those of them that may have attributions) of a screened stage: with none of the
    latter, the detail pass can leave its attributions out (each statement reading detail_select_sql plans only
    the columns it reads)."""
    return (
        f"SELECT count(), countIf(greatest({', '.join(_may_name_attributions('detail_line'))})) FROM {stage} "
        "WHERE needs_details"
    )


def attributions_insert_select_sql(
    target: str,
    source: str,
    *,
    line_column: str = DEFAULT_LINE_COLUMN,
    source_file_expr: str = "_path",
    source_etag_expr: str = "NULL",
    source_line_expr: str = "toUInt32(_row_number + 1)",
) -> str:
    """`INSERT INTO target (attributions.COLUMN_NAMES) SELECT …` of the experiment attributions of every good line
    read from `source` (a LineAsString table function, as insert_select_sql reads): a backfill run whose target is
    experiment_attributions, as Torus's backfill switches to ARRAY JOIN for that target."""
    query = _Query(line_column)
    event = ("event_hash", "event_type", "timestamp", *attributions.SCOPE_COLUMNS)
    columns = {c: query.column(c, source_file_expr, source_etag_expr, source_line_expr) for c in event}
    found, reason = query.attributions(), query.reason()
    rendered = [f"{query.render(columns[c])} AS {c}" for c in event]
    rendered += [
        f"{source_file_expr} AS source_file", f"{source_etag_expr} AS source_etag", f"{source_line_expr} AS source_line",
        f"{query.render(found)} AS attributions", "0 AS is_blank", "'' AS reason",
    ]  # fmt: skip
    stage = (
        f"(SELECT {', '.join(rendered)} FROM {source} WHERE {not_blank_condition(line_column)} "
        f"AND {query.render(reason)} = '' AND notEmpty(attributions))"
    )
    insert = attributions.insert_from_stage_sql(
        target, stage, source_file="source_file", source_etag="source_etag", source_line="source_line"
    )
    return f"{insert} {QUERY_SETTINGS}"
