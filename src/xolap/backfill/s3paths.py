"""S3 locations as ClickHouse's s3() wants them: path-style URLs on a custom endpoint, credentials as SQL arguments.

`s3://bucket/key` becomes `<endpoint>/<bucket>/<key>` when XOLAP_S3_ENDPOINT_URL is set (moto, MinIO), else the
virtual-hosted AWS URL. http(s) URLs pass through. Credentials come from settings (never from the run record).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr

from xolap.backfill.naming import BackfillInputError, check_globs
from xolap.config import Settings


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # may contain globs


def parse_s3_url(url: str, field: str = "s3_pattern") -> S3Location:
    """`s3://bucket/key` (or a path-style http(s) URL on the configured endpoint) → bucket and key."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme == "s3":
        bucket, key = parts.netloc, parts.path.lstrip("/")
    elif parts.scheme in ("http", "https"):
        path = parts.path.lstrip("/")
        bucket, _, key = path.partition("/")
        host = parts.hostname or ""
        if ".s3." in host or host.endswith(".s3.amazonaws.com"):
            bucket, key = host.split(".s3", 1)[0], path
    else:
        raise BackfillInputError(f"{field}: {url!r} must start with s3:// (or http(s):// path-style)")
    if len(bucket) < 3 or not key:
        raise BackfillInputError(f"{field}: {url!r} needs a bucket (3+ characters) and a key or pattern")
    return S3Location(bucket, check_globs(key, field))


def object_url(settings: Settings, bucket: str, key: str) -> str:
    """The URL s3() reads: path-style on a configured endpoint, virtual-hosted on AWS."""
    if settings.s3_endpoint_url:
        return f"{settings.s3_endpoint_url.rstrip('/')}/{bucket}/{key}"
    return f"https://{bucket}.s3.{settings.aws_region}.amazonaws.com/{key}"


def sql_string(value: str) -> str:
    """A ClickHouse single-quoted string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _secret(value: SecretStr | str | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def s3_function(settings: Settings, url: str, fmt: str, structure: str | None = None) -> str:
    """`s3('<url>', '<key>', '<secret>'[, '<token>'], '<format>'[, '<structure>'])` with keys from settings."""
    args = [sql_string(url)]
    key_id, secret = settings.aws_access_key_id, _secret(settings.aws_secret_access_key)
    if key_id and secret:
        args += [sql_string(key_id), sql_string(secret)]
        token = _secret(settings.aws_session_token)
        if token:
            args.append(sql_string(token))
    args.append(sql_string(fmt))
    if structure:
        args.append(sql_string(structure))
    return f"s3({', '.join(args)})"


def redact(settings: Settings, message: str) -> str:
    """The message with the configured secret key and session token replaced by ****."""
    for secret in (_secret(settings.aws_secret_access_key), _secret(settings.aws_session_token)):
        if secret:
            message = message.replace(secret, "****")
    return message
