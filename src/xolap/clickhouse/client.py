"""ClickHouse client factory over clickhouse-connect (chDB embedded or HTTP server), companion sessions, query tags, ping, info."""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from xolap.clickhouse.client_protocol import ClickHouseClient
from xolap.config import Settings

_TAG_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,120}$")
_engine_lock = threading.Lock()
_engine_path: str | None = None
_local = threading.local()


class ClickHouseUnavailable(Exception):
    """ClickHouse cannot be reached or opened; the message says which and why."""


def _chdb_path(url: str) -> str:
    parts = urlsplit(url)
    return str(Path(unquote(parts.netloc + parts.path)).resolve())


def connect(settings: Settings, *, readonly_user: bool = False) -> Client:
    """A new client. chDB: one engine per process per path; HTTP: a server user (readonly_user picks the RO one)."""
    url = settings.effective_clickhouse_url
    if readonly_user and settings.clickhouse_readonly_url and not settings.is_embedded_clickhouse:
        url = settings.clickhouse_readonly_url
    if url.startswith("chdb://"):
        return _connect_chdb(_chdb_path(url))
    parts = urlsplit(url)
    try:
        return clickhouse_connect.get_client(
            host=parts.hostname,
            port=parts.port or (8443 if parts.scheme == "https" else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            secure=parts.scheme == "https",
            connect_timeout=10,
            send_receive_timeout=max(60, settings.query_max_execution_time + 10),
            autogenerate_session_id=False,
        )
    except Exception as exc:  # clickhouse-connect raises several types for connection problems
        raise ClickHouseUnavailable(f"cannot reach ClickHouse at {parts.hostname}:{parts.port}: {exc}") from exc


def _connect_chdb(path: str) -> Client:
    global _engine_path
    if _engine_path == path:
        # The engine is open: threads open their clients side by side (chDB takes any number of handles to it).
        # Under the lock, a fresh server's ~40 worker threads queued their first clients (~10 ms of clickhouse-connect
        # setup queries each, ~90 ms under load) one behind another: up to 4 s before a request's first query.
        return _chdb_client(path, {})
    with _engine_lock:
        if _engine_path not in (None, path):
            raise ClickHouseUnavailable(
                f"this process already runs a chDB engine on {_engine_path}; cannot open {path}"
            )
        Path(path).mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {}
        if _engine_path is None:
            config = resources.files("xolap.clickhouse").joinpath("chdb-config.xml")
            options["config-file"] = str(config)
        client = _chdb_client(path, options)
        _engine_path = path
        return client


def _chdb_client(path: str, options: dict[str, Any]) -> Client:
    try:
        return clickhouse_connect.get_client(dsn=f"chdb://{path}", chdb_options=options)
    except Exception as exc:
        message = str(exc)
        if "Cannot lock file" in message or "already running" in message or "Code: 36" in message:
            # chDB 26.9 reports a held path as BAD_ARGUMENTS (code 36), the lock error only on stderr
            from xolap.serve_lock import describe_holder, read_holder

            holder = read_holder(Path(path).parent)
            if holder is not None:
                raise ClickHouseUnavailable(describe_holder(Path(path).parent, holder)) from None
            if "Code: 36" not in message or "Error initializ" in message:
                raise ClickHouseUnavailable(
                    f"the embedded ClickHouse in {path} is held by another process (is `xolap serve` running?)"
                ) from None
        raise ClickHouseUnavailable(f"cannot open embedded ClickHouse in {path}: {exc}") from exc


def thread_client(settings: Settings) -> Client:
    """The calling thread's own client (chDB runs separate clients in parallel; a shared one serializes)."""
    key = (settings.effective_clickhouse_url, settings.clickhouse_database)
    cache = getattr(_local, "clients", None)
    if cache is None:
        cache = _local.clients = {}
    client = cache.get(key)
    if client is None:
        client = cache[key] = connect(settings)
    return client


def close_thread_client(settings: Settings) -> None:
    """Close and forget the calling thread's client for these settings (chDB's engine stops once none is open)."""
    key = (settings.effective_clickhouse_url, settings.clickhouse_database)
    client = getattr(_local, "clients", {}).pop(key, None)
    if client is not None:
        client.close()


# Per chDB client: its companion handles, one per set of session defaults (session_with_defaults).
_companions: weakref.WeakKeyDictionary[Any, dict[frozenset[tuple[str, Any]], Client]] = weakref.WeakKeyDictionary()
_companions_lock = threading.Lock()
COMPANIONS_PER_CLIENT = 8
CHDB_CLIENT_MODULE = "clickhouse_connect.driver._chdbclient"


def session_with_defaults(client: ClickHouseClient, defaults: Mapping[str, Any]) -> ClickHouseClient | None:
    """A companion of an embedded chDB client: another handle of the same engine whose session holds `defaults`
    (SET once), so queries that share those settings send only the ones they change. None for a ClickHouse server
    (no sessions: every request carries its settings anyway) and for any client that is not chDB's own (a wrapper).

    Nothing else runs on a companion, so its session keeps exactly `defaults`; it is used where its caller uses the
    client (the same thread) and closed when the client is collected. A SETTINGS clause costs ClickHouse ~17 us of
    CPU per setting on every query (docs/rollups.md)."""
    if type(client).__module__ != CHDB_CLIENT_MODULE:  # exactly chDB's client (importing it imports chdb)
        return None
    key = frozenset(defaults.items())
    with _companions_lock:
        handles = _companions.setdefault(client, {})
        companion = handles.get(key)
        if companion is not None:
            return companion
        if len(handles) >= COMPANIONS_PER_CLIENT:
            return None
    companion = _chdb_client(getattr(client, "path"), {})  # noqa: B009 - chDB's client (checked above) has a path
    for name, value in defaults.items():
        companion.set_client_setting(name, value)
    with _companions_lock:
        return _companions.setdefault(client, {}).setdefault(key, companion)


TAG_PARAMETER = "xolap_query_tag"
_WITH_RE = re.compile(r"^\s*with\b", re.IGNORECASE)
_SELECT_RE = re.compile(r"^\s*select\b", re.IGNORECASE)


def _check_tag(query_tag: str) -> None:
    if not _TAG_RE.match(query_tag):
        raise ValueError(f"invalid query tag {query_tag!r}: use letters, digits and _.:- only")


def tag(sql: str, query_tag: str) -> str:
    """Prefix SQL with a comment that system.processes keeps, so the query can be found and killed.

    chDB drops clickhouse-connect's query_id (stack-findings A4); the comment survives on both engines, but only
    for queries without bound parameters: see tag_query for those.
    """
    _check_tag(query_tag)
    return f"/* xolap:{query_tag} */ {sql}"


def tag_query(sql: str, query_tag: str, parameters: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    """Tag a query so system.processes can find it, with or without bound parameters.

    With parameters, ClickHouse lists the query re-formatted after substitution, without comments; a bound
    string survives as a literal. So a SELECT also gets `WITH {xolap_query_tag:String} AS xolap_query_tag`,
    which reads as `'xolap:<tag>'` there and changes nothing in the result.
    """
    tagged = tag(sql, query_tag)
    if not parameters:
        return tagged, parameters
    marker = f"{{{TAG_PARAMETER}:String}} AS {TAG_PARAMETER}"
    if _WITH_RE.match(sql):
        body = _WITH_RE.sub(f"WITH {marker},", sql, count=1)
    elif _SELECT_RE.match(sql):
        body = f"WITH {marker} {sql}"
    else:
        return tagged, parameters
    return tag(body, query_tag), {**parameters, TAG_PARAMETER: f"xolap:{query_tag}"}


def _tag_condition(query_tag: str) -> tuple[str, dict[str, str]]:
    """A system.processes condition matching the query's comment or its bound marker, but not the lookup itself
    (a walled query names system.processes too, in its additional_table_filters setting: match the lookup's FROM)."""
    _check_tag(query_tag)
    return (
        "(query LIKE {xolap_c:String} OR query LIKE {xolap_l:String}) AND query NOT LIKE '%FROM system.processes%'",
        {"xolap_c": f"%/* xolap:{query_tag} */%", "xolap_l": f"%'xolap:{query_tag}'%"},
    )


def kill_tagged(client: ClickHouseClient, query_tag: str) -> int:
    """Kill every running query carrying the tag; returns how many were asked to stop."""
    condition, parameters = _tag_condition(query_tag)
    rows = client.query(f"SELECT query_id FROM system.processes WHERE {condition}", parameters=parameters).result_rows
    for (query_id,) in rows:
        client.command(f"KILL QUERY WHERE query_id = '{query_id}' ASYNC")
    return len(rows)


def running_tagged(client: ClickHouseClient, query_tag: str) -> list[dict[str, Any]]:
    """Progress of running tagged queries: rows/bytes read, total rows estimate, elapsed seconds."""
    condition, parameters = _tag_condition(query_tag)
    result = client.query(
        "SELECT query_id, read_rows, read_bytes, total_rows_approx, written_rows, elapsed FROM system.processes "
        f"WHERE {condition}",
        parameters=parameters,
    )
    return [dict(zip(result.column_names, row, strict=False)) for row in result.result_rows]


def ping(client: ClickHouseClient) -> float:
    """Round-trip time of SELECT 1 in milliseconds; raises ClickHouseUnavailable."""
    started = time.perf_counter()
    try:
        client.query("SELECT 1")
    except Exception as exc:
        raise ClickHouseUnavailable(str(exc)) from exc
    return (time.perf_counter() - started) * 1000


@dataclass(frozen=True)
class ServerInfo:
    version: str
    uptime_seconds: int
    timezone: str
    embedded: bool


def server_info(client: ClickHouseClient, *, embedded: bool) -> ServerInfo:
    version, uptime, timezone = client.query("SELECT version(), uptime(), timezone()").result_rows[0]
    return ServerInfo(version=version, uptime_seconds=int(uptime), timezone=timezone, embedded=embedded)
