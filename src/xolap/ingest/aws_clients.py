"""boto3 S3 and SQS clients built from Settings (endpoint, region, optional static credentials)."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import SecretStr

from xolap.config import Settings

Service = Literal["s3", "sqs"]


def _secret(value: SecretStr | str) -> str:
    # Settings built with model_copy(update=...) are not re-validated, so a secret may still be a plain str.
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def region_for(settings: Settings) -> str:
    """XOLAP_AWS_REGION when set, else the runtime's AWS_REGION (Lambda sets it), else the settings default."""
    if "aws_region" in settings.model_fields_set:
        return settings.aws_region
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or settings.aws_region


def aws_client(settings: Settings, service: Service, *, max_attempts: int = 3, read_timeout: float = 60.0) -> Any:
    """A client for S3 or SQS. Without XOLAP_AWS_ACCESS_KEY_ID it uses boto3's default chain (the Lambda role).

    An explicit endpoint (moto, MinIO, LocalStack) gets path-style S3 addressing, which such servers expect.
    """
    import boto3  # in the Lambda runtime, not a dependency of the artifact
    from botocore.config import Config

    endpoint = settings.s3_endpoint_url if service == "s3" else settings.sqs_endpoint_url
    region = region_for(settings)
    config = Config(
        region_name=region,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=10,
        read_timeout=read_timeout,
        s3={"addressing_style": "path"} if endpoint and service == "s3" else None,
    )
    kwargs: dict[str, Any] = {"endpoint_url": endpoint, "config": config, "region_name": region}
    if settings.aws_access_key_id:
        kwargs["aws_access_key_id"] = settings.aws_access_key_id
        if settings.aws_secret_access_key is not None:
            kwargs["aws_secret_access_key"] = _secret(settings.aws_secret_access_key)
        if settings.aws_session_token is not None:
            kwargs["aws_session_token"] = _secret(settings.aws_session_token)
    return boto3.session.Session().client(service, **kwargs)
