"""One-line messages for the failures an operator meets at the command line (unmigrated database, unreachable
ClickHouse or Postgres, a read-only or missing data dir, a data dir held by `xolap serve`), instead of tracebacks.
`xolap --debug …` (or XOLAP_DEBUG=1) shows the traceback as well."""

from __future__ import annotations

import errno
import re


def _chain(exc: BaseException | None) -> list[BaseException]:
    """The exception and its causes, outermost first (each once)."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _first_line(value: object) -> str:
    lines = str(value).strip().splitlines()
    return lines[0].strip() if lines else ""


def explain(exc: BaseException) -> str:
    """The one line to print for `exc` (its causes are searched for a kind we can explain)."""
    import psycopg
    from clickhouse_connect.driver import exceptions as ch_errors

    from xolap.clickhouse.client import ClickHouseUnavailable
    from xolap.serve_lock import DataDirBusy
    from xolap.store.postgres import EmbeddedPostgresFailed

    chain = _chain(exc)
    for error in chain:
        if isinstance(error, (DataDirBusy, ClickHouseUnavailable, EmbeddedPostgresFailed)):
            return _first_line(error)
        if isinstance(error, psycopg.errors.UndefinedTable):
            table = re.search(r'relation "([^"]+)"', str(error))
            missing = f" (table {table.group(1)} is missing)" if table else ""
            return f"the Postgres database is not migrated{missing}: run `xolap db migrate` (or start `xolap serve`)"
        if isinstance(error, psycopg.OperationalError):
            return f"cannot reach Postgres: {_first_line(error)}"
        if isinstance(error, ch_errors.OperationalError):
            return f"cannot reach ClickHouse: {_first_line(error)}"
        if isinstance(error, OSError) and error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            where = f" {error.filename}" if error.filename else ""
            return f"cannot write{where}: {error.strerror} (is the data dir read-only? set XOLAP_DATA_DIR)"
        if isinstance(error, FileNotFoundError) and error.filename:
            return f"{error.filename} does not exist and cannot be created: {error.strerror} (check XOLAP_DATA_DIR)"
    text = _first_line(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
