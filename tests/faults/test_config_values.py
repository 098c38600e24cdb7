"""Configuration values that cannot work are start-up errors naming the variable, not a failure later in a store's
start (XOLAP_DATA_DIR naming a file ended `xolap serve` with 'FileExistsError: [Errno 17] File exists')."""

from __future__ import annotations

import pytest

from xolap.config import ConfigError, load_settings


def test_a_data_dir_that_is_a_file_is_a_startup_error_naming_it(monkeypatch, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    monkeypatch.setenv("XOLAP_DATA_DIR", str(afile))
    with pytest.raises(ConfigError, match="XOLAP_DATA_DIR: .*not a folder"):
        load_settings()
    monkeypatch.setenv("XOLAP_DATA_DIR", str(tmp_path / "not-yet"))  # a folder made at start is fine
    assert load_settings().data_dir == tmp_path / "not-yet"
