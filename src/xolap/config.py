"""Effective configuration: environment (XOLAP_*), optional xolap.toml, defaults; secrets masked on display."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

ENV_PREFIX = "XOLAP_"

# The largest value a count or size limit may take. ClickHouse keeps its limits in 64-bit integers and wraps a larger
# value (2**64 was read as 0, no limit at all; 2**64 + 7 as 7 rows), and run() sends max_result_rows + 1.
LIMIT_MAX = 10**18
# The longest time limit, in seconds. ClickHouse refused any query past ~9.2e12 s (microseconds in a signed 64-bit
# integer) and Python waits at most threading.TIMEOUT_MAX (~9.2e9 s); no query of a web request runs for a day.
TIME_LIMIT_MAX_S = 86_400


class ConfigError(Exception):
    """A configuration value is invalid; the message names the variable and what is expected."""


def _toml_path() -> Path:
    return Path(os.environ.get("XOLAP_CONFIG_FILE", "xolap.toml"))


class Settings(BaseSettings):
    """All runtime settings. Env names (XOLAP_<FIELD>) are a contract other tools rely on."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", validate_default=True)

    data_dir: Path = Field(Path("./var"), description="Where embedded ClickHouse and Postgres keep their files.")
    clickhouse_url: str | None = Field(
        None,
        description="chdb://<path> (embedded) or http(s)://user:pass@host:port (server). Default chdb://<data_dir>/clickhouse.",
    )
    clickhouse_database: str = Field("xolap", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    clickhouse_readonly_url: str | None = Field(
        None, description="Server mode: the read-only user that user SQL runs as."
    )
    clickhouse_cluster: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$")
    raw_events_ttl_months: int | None = Field(
        None, ge=1, le=1200, description="Optional TTL on raw_events, in months (at most a century)."
    )
    database_url: str | None = Field(
        None, description="Postgres URL; default: embedded pgserver under <data_dir>/postgres."
    )

    aws_region: str = "us-east-1"
    aws_access_key_id: str | None = None
    aws_secret_access_key: SecretStr | None = None
    aws_session_token: SecretStr | None = None
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (e.g. a moto server in tests).")
    sqs_endpoint_url: str | None = None
    etl_queue_url: str | None = Field(
        None, description="When set, `xolap serve` runs the SQS ETL worker on this queue."
    )
    etl_dlq_url: str | None = None
    s3_bundle_bucket: str | None = Field(None, description="Bucket the S3 uploader writes statement bundles to.")
    s3_bundle_prefix: str = ""

    ingest_max_line_bytes: int = Field(
        4 * 1024**2, ge=1024, description="Longer JSONL lines are rejected (line error)."
    )
    ingest_max_decompressed_bytes: int = Field(
        16 * 1024**3, ge=1, description="A gzip file expanding past this is refused."
    )
    ingest_max_compression_ratio: int = Field(100, ge=2, description="A gzip file expanding more than this is refused.")
    ingest_roots: list[Path] | None = Field(
        None, description="Folders the server may ingest local paths from (JSON list). Default: [<data_dir>/imports]."
    )

    query_max_execution_time: int = Field(30, ge=1, le=TIME_LIMIT_MAX_S, description="Seconds.")
    query_max_result_rows: int = Field(10_000, ge=1, le=LIMIT_MAX)
    query_max_rows_to_read: int = Field(200_000_000, ge=1, le=LIMIT_MAX)
    query_max_bytes_to_read: int = Field(20 * 1024**3, ge=1, le=LIMIT_MAX)
    query_max_memory_usage: int = Field(2 * 1024**3, ge=1, le=LIMIT_MAX)
    query_max_range_elements: int = Field(
        1_000_000,
        ge=1,
        le=LIMIT_MAX,
        description="Most array elements range() may build in one block of a custom query.",
    )
    query_memory_per_second: int = Field(
        70 * 1024**2,
        ge=1,
        le=LIMIT_MAX,
        description="Memory a custom query may use per second of its time limit (bounds the work of one block).",
    )
    query_concurrency: int = Field(
        4,
        ge=1,
        le=32,
        description="Custom queries run at once; more wait for a slot up to the query time limit, then answer 503.",
    )
    result_cache_bytes: int = Field(
        64 * 1024**2,
        ge=0,
        le=LIMIT_MAX,
        description="Bytes of dashboard answers (categories, summaries) kept warm; 0 = no cache.",
    )
    result_cache_max_age: float = Field(
        300.0,
        gt=0,
        le=TIME_LIMIT_MAX_S,
        description="Seconds a warm dashboard answer may be served (at most 5 with a ClickHouse server).",
    )

    admin_token: SecretStr | None = Field(None, description="Bearer token accepted as admin by the JSON API.")
    secret_key: SecretStr | None = Field(None, description="Session signing key; generated under data_dir when unset.")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_toml_path()))

    @field_validator("data_dir")
    @classmethod
    def _check_data_dir(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError("names a file, not a folder: point it at a folder (made at start when missing)")
        return value

    @field_validator("clickhouse_url", "clickhouse_readonly_url")
    @classmethod
    def _check_clickhouse_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme == "chdb" and (parts.path or parts.netloc):
            return value
        if parts.scheme in ("http", "https") and parts.hostname:
            return value
        raise ValueError("expected chdb://<path> or http(s)://user:pass@host:port")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if urlsplit(value).scheme.split("+")[0] not in ("postgresql", "postgres"):
            raise ValueError("expected postgresql://user:pass@host:port/dbname")
        return value

    @property
    def effective_clickhouse_url(self) -> str:
        return self.clickhouse_url or f"chdb://{(self.data_dir / 'clickhouse').resolve()}"

    @property
    def is_embedded_clickhouse(self) -> bool:
        # as effective_clickhouse_url.startswith("chdb://"), without resolving the data dir (a path resolve per call
        # was ~30-150 us, asked several times per dashboard answer)
        return not self.clickhouse_url or self.clickhouse_url.startswith("chdb://")

    @property
    def postgres_dir(self) -> Path:
        return (self.data_dir / "postgres").resolve()

    @property
    def effective_ingest_roots(self) -> list[Path]:
        """The folders (resolved) a server-side ingest may read local files under."""
        roots = self.ingest_roots if self.ingest_roots is not None else [self.data_dir / "imports"]
        return [Path(root).expanduser().resolve() for root in roots]

    def display(self) -> dict[str, Any]:
        """Effective values with every secret (passwords in URLs, keys, tokens) masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif isinstance(value, str) and "://" in value:
                value = mask_url(value)
            elif isinstance(value, Path):
                value = str(value)
            out[ENV_PREFIX + name.upper()] = value
        out["(effective clickhouse url)"] = mask_url(self.effective_clickhouse_url)
        out["(postgres)"] = (
            mask_url(self.database_url) if self.database_url else f"embedded pgserver in {self.postgres_dir}"
        )
        return out


def mask_url(url: str) -> str:
    """Replace the password of a URL with ****."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:****@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into a ConfigError that names the env variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            lines.append(f"{ENV_PREFIX}{field.upper()}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
