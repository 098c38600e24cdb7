"""A Postgres session for one CLI command: the configured store, committed when the command succeeds; an embedded
Postgres the command had to start is stopped at the end (one this process already ran, or a serving process's, keeps
running); the errors the command names are one `error:` line and its exit code, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def fail(message: str, code: int = 1) -> NoReturn:
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@contextmanager
def command_session(exit_codes: Mapping[type[BaseException], int]) -> Iterator[Session]:
    """exit_codes: the errors the command expects (most specific first) and the exit code each means."""
    from xolap.config import ConfigError, get_settings
    from xolap.store.db import session_scope
    from xolap.store.postgres import embedded_dirs, stop_embedded

    try:
        settings = get_settings()
    except ConfigError as exc:
        fail(str(exc))
    running_before = embedded_dirs()
    try:
        with session_scope(settings) as session:
            yield session
    except tuple(exit_codes) as exc:
        code = next(code for kind, code in exit_codes.items() if isinstance(exc, kind))
        fail(str(exc), code)
    finally:
        for pgdata in embedded_dirs() - running_before:
            stop_embedded(pgdata)
