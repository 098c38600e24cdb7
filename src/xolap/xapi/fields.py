"""The one declarative xAPI statement → raw_events mapping: field specs both the Python and the SQL path are built from.

Each raw_events column is described once here: where it comes from in the statement (JSON paths, first present
one wins), how the JSON value is converted (its `kind`) and, for a few, which event types it applies to. The
Python row builder (xolap.xapi.rows) and the ClickHouse SELECT generator (xolap.xapi.sql) both interpret this
list, so the two ingest paths cannot drift (Torus keeps three copies that did: torus-implementation.md §3–5).

Value kinds (the same rules in both paths). A present value that breaks them rejects the line only for a
REJECTING_FIELDS column (the statement cannot be keyed without it); any other column is stored NULL and the line
gets a warning naming the field and the value (xolap.xapi.warnings):
- string:    a JSON string, or an integer (|n| < 10^18, written in decimal).
- text:      anything; strings as they are, other values as JSON spelled the way Torus's ETL writes it
             (Python json.dumps defaults: ", " and ": " separators, ASCII escapes; xolap.xapi.torus_json).
- uint64 / uint32: a non-negative integer within range, or a string of ASCII digits; an empty string is NULL.
- float64:   a JSON number, or a string holding a JSON number; an empty string is NULL.
- bool:      true or false.
- count:     a non-negative integer (UInt32), or an array whose length is the count (Torus hints_requested).
- response:  a string; an object whose `input` is truthy in Python's sense gives that input (Torus's
             `input or json.dumps(response)`); anything else its JSON text.
- lang_map:  an xAPI language map: en-US, else en, else the first entry; a plain string is taken as is.
- timestamp: ISO 8601 / RFC 3339 date-time, normalized to UTC milliseconds (fractions truncated, never rounded).
A value that is JSON null or absent is NULL. Float values that are whole numbers count as integers (ClickHouse's
JSON reader re-serializes 1.0 as 1; treating both as the integer keeps the paths identical). Integers outside
Int64/UInt64 count as the string of their digits (ClickHouse reads them so). Duplicate keys: the last one wins.

Sources are tried in order: the first present one wins, or, for a field with fallback="truthy", the first whose
value is truthy in Python's sense (Torus's `a or b or c` chains: 0, "", false, [] and {} fall through), the last
source being taken as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from xolap.clickhouse.columns import MAPPED_COLUMN_NAMES, MAPPED_COLUMNS

Kind = Literal["string", "text", "uint64", "uint32", "float64", "bool", "count", "response", "lang_map", "timestamp"]
Fallback = Literal["present", "truthy"]
Path = tuple[str, ...]

OLI = "http://oli.cmu.edu/extensions/"
VIDEO_EXT = "https://w3id.org/xapi/video/extensions/"
VIDEO_VERBS = "https://w3id.org/xapi/video/verbs/"

VERB_COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VERB_EXPERIENCED = "http://adlnet.gov/expapi/verbs/experienced"
VERB_VIEWED = "http://id.tincanapi.com/verb/viewed"
TYPE_QUESTION = "http://adlnet.gov/expapi/activities/question"
TYPE_ACTIVITY_ATTEMPT = OLI + "activity_attempt"
TYPE_PAGE_ATTEMPT = OLI + "page_attempt"
TYPE_PAGE = OLI + "types/page"

# Torus's classification rule (its ETL common.py): first match wins, anything else is 'unknown' (and still kept).
# (event_type, verbs, object.definition.type or None for any)
EVENT_TYPE_RULES: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    (
        "video",
        (
            VIDEO_VERBS + "played",
            VIDEO_VERBS + "paused",
            VIDEO_VERBS + "seeked",
            VIDEO_VERBS + "completed",
            VERB_EXPERIENCED,
        ),
        None,
    ),
    ("activity_attempt", (VERB_COMPLETED,), TYPE_ACTIVITY_ATTEMPT),
    ("page_attempt", (VERB_COMPLETED,), TYPE_PAGE_ATTEMPT),
    ("page_viewed", (VERB_VIEWED,), TYPE_PAGE),
    ("part_attempt", (VERB_COMPLETED,), TYPE_QUESTION),
)
UNKNOWN_EVENT_TYPE = "unknown"
EVENT_TYPES: tuple[str, ...] = tuple(rule[0] for rule in EVENT_TYPE_RULES) + (UNKNOWN_EVENT_TYPE,)

# Parts of the statement that must be JSON objects / strings for a line to be a statement at all (checked in order).
REQUIRED_OBJECTS: tuple[str, ...] = ("actor", "verb", "object")
# Where a statement's experiment attributions are (xolap.xapi.attributions reads them from the parsed statement).
ATTRIBUTIONS_PATH: Path = ("context", "extensions", OLI + "experiment_attributions")
VERB_ID_PATH: Path = ("verb", "id")
OBJECT_TYPE_PATH: Path = ("object", "definition", "type")

# Earliest / latest local year accepted, so a UTC offset can never leave DateTime64(3)'s range (1900..2299).
MIN_YEAR, MAX_YEAR = 1901, 2298
# Digits allowed in an integer written into a string column (both engines print these exactly).
MAX_STRING_INT_DIGITS = 18


@dataclass(frozen=True)
class Source:
    """One JSON path a field may come from; `only_for` limits it to some event types (a producer quirk)."""

    path: Path
    only_for: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        return ".".join(f"[{key}]" if ("/" in key or "." in key) else key for key in self.path).replace(".[", "[")


@dataclass(frozen=True)
class Field:
    """A raw_events column taken from the statement: sources in fallback order, kind, optional event-type scope."""

    column: str
    kind: Kind
    sources: tuple[Source, ...]
    only_for: tuple[str, ...] | None = None  # the column is NULL for other event types
    fallback: Fallback = "present"


def _ctx(key: str) -> Source:
    return Source(("context", "extensions", OLI + key))


def _res(key: str) -> Source:
    return Source(("result", "extensions", OLI + key))


def _video(section: str, key: str) -> Source:
    if section == "object":
        return Source(("object", "definition", "extensions", VIDEO_EXT + key))
    return Source((section, "extensions", VIDEO_EXT + key))


def _f(
    column: str,
    kind: Kind,
    *sources: Source | Path,
    only_for: tuple[str, ...] | None = None,
    fallback: Fallback = "present",
) -> Field:
    return Field(column, kind, tuple(s if isinstance(s, Source) else Source(s) for s in sources), only_for, fallback)


# Columns computed from the whole line or the ingest, not from one statement path.
EVENT_TYPE_COLUMN = "event_type"
PROVENANCE_COLUMNS: tuple[str, ...] = ("event_hash", "source_file", "source_etag", "source_line")

FIELDS: tuple[Field, ...] = (
    _f(
        "user_id",
        "string",
        ("actor", "account", "name"),
        ("actor", "mbox"),
        ("actor", "mbox_sha1sum"),
        ("actor", "openid"),
        fallback="truthy",
    ),
    _f("home_page", "string", ("actor", "account", "homePage")),
    _f("section_id", "uint64", _ctx("section_id")),
    _f("project_id", "uint64", _ctx("project_id")),
    _f("publication_id", "uint64", _ctx("publication_id")),
    _f("enrollment_id", "uint64", _ctx("enrollment_id")),
    _f("timestamp", "timestamp", ("timestamp",)),
    _f("verb_id", "string", VERB_ID_PATH),
    # Video played/paused/seeked carry the page in resource_id (Torus quirk); completed carries page_id.
    _f("page_id", "uint64", _ctx("page_id"), Source(_ctx("resource_id").path, only_for=("video",))),
    _f(
        "content_element_id",
        "string",
        ("result", "extensions", "content_element_id"),
        _ctx("content_element_id"),
        fallback="truthy",
    ),
    _f("video_url", "string", ("object", "id"), only_for=("video",)),
    _f("video_time", "float64", _video("result", "time")),
    # Torus: result or context or object length (a 0 or "" falls through to the next one).
    _f(
        "video_length",
        "float64",
        _video("result", "length"),
        _video("context", "length"),
        _video("object", "length"),
        fallback="truthy",
    ),
    _f("video_progress", "float64", _video("result", "progress")),
    # Torus stores the segments as text; a JSON array of segments is kept as its JSON text.
    _f("video_played_segments", "text", _video("result", "played-segments")),
    _f("video_seek_from", "float64", _video("result", "time-from")),
    _f("video_seek_to", "float64", _video("result", "time-to")),
    _f("activity_attempt_guid", "string", _ctx("activity_attempt_guid")),
    _f("activity_attempt_number", "uint32", _ctx("activity_attempt_number")),
    _f("page_attempt_guid", "string", _ctx("page_attempt_guid")),
    _f("page_attempt_number", "uint32", _ctx("page_attempt_number")),
    _f("part_attempt_guid", "string", _ctx("part_attempt_guid")),
    _f("part_attempt_number", "uint32", _ctx("part_attempt_number")),
    _f("activity_id", "uint64", _ctx("activity_id")),
    _f("activity_revision_id", "uint64", _ctx("activity_revision_id")),
    _f("part_id", "string", _ctx("part_id")),
    # Torus: the object's subType only ("" stays ""; a context page_sub_type is not read).
    _f("page_sub_type", "string", ("object", "definition", "subType")),
    _f("score", "float64", ("result", "score", "raw")),
    _f("out_of", "float64", ("result", "score", "max")),
    _f("scaled_score", "float64", ("result", "score", "scaled")),
    _f("success", "bool", ("result", "success")),
    _f("completion", "bool", ("result", "completion")),
    _f("response", "response", ("result", "response")),
    _f("feedback", "text", _res("feedback")),
    _f("hints_requested", "count", _ctx("hints_requested")),
    _f("attached_objectives", "text", _ctx("attached_objectives")),
    _f("session_id", "string", _ctx("session_id")),
    _f("statement_id", "string", ("id",)),
    _f("object_id", "string", ("object", "id")),
    _f("object_type", "string", OBJECT_TYPE_PATH),
    _f("object_name", "lang_map", ("object", "definition", "name")),
)

FIELDS_BY_COLUMN: dict[str, Field] = {field.column: field for field in FIELDS}
# Fields whose absence rejects the line (reason: "<path>: missing ...").
REQUIRED_FIELDS: tuple[str, ...] = ("timestamp", "verb_id")
# Fields whose malformed value rejects the line: without them the statement cannot be placed (partition, key).
# Every other malformed value is stored NULL with a warning (severity 'warning' in ingest_errors).
REJECTING_FIELDS: tuple[str, ...] = ("timestamp", "verb_id")
# Fields whose value identifies a learner: a warning names the field, never the value.
IDENTITY_FIELDS: tuple[str, ...] = ("user_id",)
COLUMN_TYPES: dict[str, str] = dict(MAPPED_COLUMNS)


def _check_contract() -> None:
    """Every mapped column is produced exactly once: by a field, the classification, or provenance."""
    produced = [f.column for f in FIELDS] + [EVENT_TYPE_COLUMN, *PROVENANCE_COLUMNS]
    missing = set(MAPPED_COLUMN_NAMES) - set(produced)
    extra = [c for c in produced if c not in MAPPED_COLUMN_NAMES or produced.count(c) > 1]
    if missing or extra:
        raise RuntimeError(f"xapi field specs out of step with raw_events: missing {sorted(missing)}, extra {extra}")


_check_contract()


def field_label(field: Field) -> str:
    """How an error names a field: its column and where it was read from."""
    return f"{field.column} ({' | '.join(source.label for source in field.sources)})"
