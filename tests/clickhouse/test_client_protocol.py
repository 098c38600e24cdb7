"""The ClickHouseClient Protocol matches clickhouse-connect's Client: same method names, parameter names and order."""

from __future__ import annotations

import inspect

import pytest
from clickhouse_connect.driver.client import Client

from xolap.clickhouse.client_protocol import ClickHouseClient

PROTOCOL_METHODS = sorted(
    name for name, member in vars(ClickHouseClient).items() if inspect.isfunction(member) and not name.startswith("_")
)


def test_protocol_covers_what_xolap_calls():
    assert {"query", "command", "insert", "insert_arrow", "query_arrow", "raw_query", "close"} <= set(PROTOCOL_METHODS)
    assert "database" in ClickHouseClient.__annotations__


@pytest.mark.parametrize("name", PROTOCOL_METHODS)
def test_client_method_takes_the_protocol_parameters_in_order(name):
    """Each Protocol parameter is the Client's parameter at the same position, with the same name and default."""
    ours = list(inspect.signature(getattr(ClickHouseClient, name)).parameters.values())
    theirs = list(inspect.signature(getattr(Client, name)).parameters.values())
    assert len(ours) <= len(theirs), f"Client.{name} takes fewer parameters than the Protocol declares"
    for mine, real in zip(ours, theirs[: len(ours)], strict=True):
        assert (mine.name, mine.kind) == (real.name, real.kind), f"Client.{name}: {real} where the Protocol has {mine}"
        assert mine.default == real.default, (
            f"Client.{name}({real.name}): default {real.default!r}, not {mine.default!r}"
        )
    extra = [p for p in theirs[len(ours) :] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert all(p.default is not p.empty for p in extra), f"Client.{name} requires more than the Protocol passes"


def test_embedded_client_is_a_clickhouse_client(ch_engine):
    """The client our factory returns has every Protocol member (a runtime check of the structural type)."""
    for name in [*PROTOCOL_METHODS, "database"]:
        assert hasattr(ch_engine, name), name
    assert isinstance(ch_engine, Client)
