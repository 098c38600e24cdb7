"""What xolap calls on a ClickHouse client: the typed seam over clickhouse-connect's Client (chDB or HTTP)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow
    from clickhouse_connect.driver.query import QueryResult
    from clickhouse_connect.driver.summary import QuerySummary

# Query parameters as clickhouse-connect takes them: by name ({name:Type} placeholders) or by position.
Parameters = Sequence[Any] | dict[str, Any]


class ClickHouseClient(Protocol):
    """The part of clickhouse-connect's `Client` our code uses; a parameter typed with it accepts any such client.

    The parameter names are clickhouse-connect's, so its `Client` (chDB and HTTP alike) satisfies this Protocol as
    it is; each method keeps only the keyword arguments xolap passes.
    """

    database: str | None

    def query(
        self,
        query: str | None = None,
        parameters: Parameters | None = None,
        settings: dict[str, Any] | None = None,
        query_formats: dict[str, str] | None = None,
        column_formats: dict[str, str | dict[str, str]] | None = None,
    ) -> QueryResult: ...

    def command(
        self,
        cmd: str,
        parameters: Parameters | None = None,
        data: str | bytes | None = None,
        settings: dict[str, Any] | None = None,
    ) -> str | int | Sequence[str] | QuerySummary: ...

    def raw_query(
        self,
        query: str,
        parameters: Parameters | None = None,
        settings: dict[str, Any] | None = None,
        fmt: str | None = None,
    ) -> bytes: ...

    def query_arrow(
        self,
        query: str,
        parameters: Parameters | None = None,
        settings: dict[str, Any] | None = None,
    ) -> pyarrow.Table: ...

    def insert(
        self,
        table: str | None = None,
        data: Sequence[Sequence[Any]] | None = None,
        column_names: str | Sequence[str] | None = "*",
        database: str | None = None,
        column_types: Sequence[Any] | None = None,
        column_type_names: Sequence[str] | None = None,
        column_oriented: bool = False,
        settings: dict[str, Any] | None = None,
    ) -> QuerySummary: ...

    def insert_arrow(
        self,
        table: str,
        arrow_table: pyarrow.Table,
        database: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> QuerySummary: ...

    def close(self) -> None: ...
