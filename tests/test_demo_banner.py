"""The demo's ready message names only what exists: the admin token file once it is there, or the configured token."""

from __future__ import annotations

import stat

from xolap.config import load_settings
from xolap.demo import admin_token_announcement
from xolap.runtime import Runtime


def test_the_token_file_exists_before_the_banner_names_it(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    token_file = tmp_path / "admin-token"
    assert not token_file.exists()
    line = admin_token_announcement(Runtime(settings))
    assert token_file.exists(), "the banner names a file that does not exist"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert line == f"admin API token: {token_file.resolve()}"
    assert token_file.read_text().strip() not in line  # the secret itself is never printed
    # a second start names the same file and keeps its token
    first = token_file.read_text()
    assert admin_token_announcement(Runtime(settings)) == line and token_file.read_text() == first


def test_a_configured_token_is_named_by_its_setting_and_no_file_is_made(tmp_path):
    settings = load_settings(data_dir=tmp_path, admin_token="configured-secret-value")
    line = admin_token_announcement(Runtime(settings))
    assert not (tmp_path / "admin-token").exists()
    assert "admin-token" not in line and "configured-secret-value" not in line
    assert line == "admin API token: the configured XOLAP_ADMIN_TOKEN"
