"""An address `xolap serve` cannot listen on (a host that is no address, a port another process holds) is a start-up
error naming it and the setting, before any store starts: uvicorn found it only after the migrations, the workers and
the embedded Postgres had started, and said '[Errno -2] Name or service not known'."""

from __future__ import annotations

import socket

import pytest

from xolap.serve import ListenAddressError, serve


@pytest.fixture()
def settings(base_settings, tmp_path):
    return base_settings.model_copy(update={"data_dir": tmp_path})


def test_a_host_that_is_no_address_is_refused_before_anything_starts(settings, tmp_path):
    with pytest.raises(ListenAddressError) as info:
        serve(settings, host="999.1.1.1", port=8000)
    assert "999.1.1.1:8000" in str(info.value) and "XOLAP_HOST" in str(info.value)
    assert not (tmp_path / "postgres").exists()  # no store was started


def test_a_port_in_use_is_refused_before_anything_starts(settings, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ListenAddressError) as info:
            serve(settings, host="127.0.0.1", port=port)
    assert f"127.0.0.1:{port}" in str(info.value) and "XOLAP_PORT" in str(info.value)
    assert not (tmp_path / "postgres").exists()
