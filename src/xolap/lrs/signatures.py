"""Signed statements (xAPI 1.0.3 §2.6): the signature attachment is a JWS (RS256/RS384/RS512) whose payload is the
statement it signs (the LRS's own fields, id and attachments aside). Checked for form and payload; the RSA
signature itself is not verified (xAPI leaves trust in the key to the reader)."""

from __future__ import annotations

import base64
import binascii
import re

import orjson

ALGORITHMS = {"RS256", "RS384", "RS512"}
IGNORED = ("id", "stored", "authority", "version", "attachments", "timestamp")


class SignatureError(ValueError):
    pass


def _decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise SignatureError("signature is not a JWS (bad base64url)") from None


def _hundredths(duration: object) -> object:
    """A duration with its seconds cut to 0.01 s (xAPI 2.0: finer precision is not compared)."""
    return re.sub(r"(\d+\.\d{2})\d*S$", r"\1S", duration) if isinstance(duration, str) else duration


def _comparable(statement: dict, ignore_timestamp: bool) -> dict:
    out = {k: v for k, v in statement.items() if k not in IGNORED or (k == "timestamp" and not ignore_timestamp)}
    if isinstance(out.get("result"), dict) and "duration" in out["result"]:
        out["result"] = {**out["result"], "duration": _hundredths(out["result"]["duration"])}
    return out


def check(statement: dict, attachment: dict, content: bytes) -> None:
    if attachment.get("contentType") != "application/octet-stream":
        raise SignatureError("a signature attachment's contentType must be application/octet-stream")
    try:
        parts = content.decode("ascii").strip().split(".")
    except UnicodeDecodeError:
        raise SignatureError("signature is not a JWS") from None
    if len(parts) != 3:
        raise SignatureError("signature is not a JWS compact serialization")
    try:
        header = orjson.loads(_decode(parts[0]))
        payload = orjson.loads(_decode(parts[1]))
    except orjson.JSONDecodeError:
        raise SignatureError("signature header or payload is not JSON") from None
    if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
        raise SignatureError("signature algorithm must be RS256, RS384 or RS512")
    if not isinstance(payload, dict):
        raise SignatureError("signature payload is not a statement")
    if "id" in payload and "id" in statement and str(payload["id"]).lower() != str(statement["id"]).lower():
        raise SignatureError("signature payload does not match the statement")
    if _comparable(payload, "timestamp" not in payload) != _comparable(statement, "timestamp" not in payload):
        raise SignatureError("signature payload does not match the statement")
