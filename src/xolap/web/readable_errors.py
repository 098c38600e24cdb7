"""The cause of a failure in plain words for admin pages (a failed backfill run, batch or chunk); the raw message
stays available behind a disclosure. Jinja filter `cause` and global `known_causes` (the same rules for the run page's
live updates, static/js/backfill.js), registered by xolap.web.negotiation."""

from __future__ import annotations

import re

# (pattern in the raw message, what it means) — first match wins, so the network's causes come before the missing
# file's; patterns are ClickHouse error names, S3 codes and the connection failures backfills meet.
KNOWN_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), words)
    for pattern, words in (
        (r"NoSuchBucket", "The S3 bucket does not exist."),
        # before the missing file: a host name that does not resolve reads "Not found address of host" (DNS_ERROR)
        (
            r"Connection refused|Could not resolve host|Couldn't connect|Could not connect to the endpoint"
            r"|Connect timeout on endpoint|Timeout: connect timed out|POCO_EXCEPTION|NETWORK_ERROR|DNS_ERROR"
            r"|Not found address of host|Name or service not known|Temporary failure in name resolution"
            r"|No route to host|Network is unreachable",
            "The storage could not be reached (network or endpoint down).",
        ),
        # the inventory reader's words for a manifest that is not there (a missing bucket reads as the bucket above)
        (r"manifest \S+ does not exist \(NoSuchKey\)", "The manifest is not in S3: check the manifest's s3:// URL."),
        (
            # chDB reading one object that is not there says 'HTTP response code: 404'
            r"NoSuchKey|Not Found|HTTP (?:status|response) code: 404|FILE_DOESNT_EXIST|CANNOT_STAT",
            "A file named by the run is not in S3 (any more).",
        ),
        (
            r"AccessDenied|Forbidden|HTTP status code: 403|InvalidAccessKeyId|SignatureDoesNotMatch",
            "S3 refused access: check the credentials and the bucket policy.",
        ),
        (r"TIMEOUT_EXCEEDED|timed out", "It took longer than the time limit."),
        (r"MEMORY_LIMIT_EXCEEDED", "It needed more memory than allowed."),
        (
            r"UNKNOWN_TABLE|Table .* does not exist",
            "The target table does not exist: run the migrations (Maintenance page).",
        ),
        (
            r"CANNOT_PARSE|INCORRECT_DATA|CANNOT_READ_ALL_DATA|Cannot parse",
            "Some input could not be read as the chosen format.",
        ),
        (r"QUERY_WAS_CANCELLED|cancelled", "It was cancelled."),
    )
)
_CLICKHOUSE_PREFIX = re.compile(r"^(?:Code:\s*\d+\.\s*)?(?:DB::Exception:\s*)?")


def readable_cause(raw: str | None) -> str:
    """One sentence saying why, for a raw error message ('' for none)."""
    if not raw:
        return ""
    for pattern, words in KNOWN_CAUSES:
        if pattern.search(raw):
            return words
    first = raw.split("Stack trace")[0].strip().splitlines()[0] if raw.strip() else ""
    first = _CLICKHOUSE_PREFIX.sub("", first).strip()
    first = re.sub(r"\s*\((?:[A-Z_]+)\)\s*(?:\(version [^)]*\))?\s*$", "", first)
    return (first[:200] + "…") if len(first) > 200 else first


def known_causes() -> list[list[str]]:
    """KNOWN_CAUSES as [pattern, words] pairs for the browser (each pattern is also a valid JavaScript RegExp, matched
    case-insensitively), so a failure arriving live reads as the page says it after a reload."""
    return [[pattern.pattern, words] for pattern, words in KNOWN_CAUSES]
