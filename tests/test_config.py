"""Configuration: defaults, env names, validation errors that name the variable, masking, xolap.toml."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from xolap.config import ConfigError, get_settings, load_settings, mask_url


def test_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.clickhouse_database == "xolap"
    assert settings.effective_clickhouse_url == f"chdb://{(tmp_path / 'var' / 'clickhouse').resolve()}"
    assert settings.is_embedded_clickhouse and settings.database_url is None


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "XOLAP_CLICKHOUSE_URL",
            "mysql://x",
            "XOLAP_CLICKHOUSE_URL: Value error, expected chdb://<path> or http(s)://",
        ),
        ("XOLAP_PORT", "eighty", "XOLAP_PORT: Input should be a valid integer"),
        ("XOLAP_DATABASE_URL", "sqlite:///x.db", "XOLAP_DATABASE_URL: Value error, expected postgresql://"),
        ("XOLAP_CLICKHOUSE_DATABASE", "bad-name;drop", "XOLAP_CLICKHOUSE_DATABASE: String should match pattern"),
        ("XOLAP_QUERY_MAX_RESULT_ROWS", "0", "XOLAP_QUERY_MAX_RESULT_ROWS: Input should be greater than or equal to 1"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert expected in str(info.value)
    assert repr(value) in str(info.value)


def test_server_url_and_masking(monkeypatch):
    monkeypatch.setenv("XOLAP_CLICKHOUSE_URL", "https://admin:s3cret@ch.example:8443")
    monkeypatch.setenv("XOLAP_AWS_SECRET_ACCESS_KEY", "topsecret")
    settings = load_settings()
    assert not settings.is_embedded_clickhouse
    shown = json.dumps(settings.display())
    assert "s3cret" not in shown and "topsecret" not in shown
    assert "https://admin:****@ch.example:8443" in shown
    assert mask_url("http://u@h:1") == "http://u@h:1"


def test_toml_file_and_env_precedence(monkeypatch, tmp_path):
    toml = tmp_path / "xolap.toml"
    toml.write_text('clickhouse_database = "from_toml"\nport = 9000\n')
    monkeypatch.setenv("XOLAP_CONFIG_FILE", str(toml))
    monkeypatch.setenv("XOLAP_PORT", "9100")
    settings = load_settings()
    assert settings.clickhouse_database == "from_toml"
    assert settings.port == 9100  # the environment wins over the file


def test_config_show_cli(monkeypatch):
    from xolap.cli import app

    monkeypatch.setenv("XOLAP_CLICKHOUSE_URL", "http://reader:pw123@localhost:8123")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["config", "show", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["XOLAP_CLICKHOUSE_URL"] == "http://reader:****@localhost:8123"
    assert "pw123" not in result.output


def test_config_show_cli_reports_bad_value(monkeypatch):
    from xolap.cli import app

    monkeypatch.setenv("XOLAP_PORT", "-5")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["config", "show"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "XOLAP_PORT" in result.output
