"""multipart/mixed bodies of xAPI statements with attachments: read a request (statements part first, then one
part per attachment named by X-Experience-API-Hash) and write a response the same way."""

from __future__ import annotations

import hashlib
import re
import secrets

import orjson

_BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


class MultipartError(ValueError):
    pass


def _headers(block: bytes) -> dict[str, str]:
    headers = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def parse(content_type: str, body: bytes) -> tuple[bytes, dict[str, tuple[str, bytes]]]:
    """(statements JSON, {sha2: (content type, content)}); MultipartError for a malformed body or a part whose
    content does not match its X-Experience-API-Hash."""
    match = _BOUNDARY_RE.search(content_type)
    if not match:
        raise MultipartError("multipart/mixed needs a boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise MultipartError("multipart body has no parts")
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk.lstrip(b"\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = chunk.partition(b"\n\n")
            if not sep:
                raise MultipartError("multipart part without a header/body separator")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        parts.append((_headers(head), content))
    if not parts:
        raise MultipartError("multipart body has no parts")
    first_headers, statements = parts[0]
    if not first_headers.get("content-type", "").lower().startswith("application/json"):
        raise MultipartError("the first multipart part must be the statements as application/json")
    attachments = {}
    for headers, content in parts[1:]:
        sha2 = headers.get("x-experience-api-hash", "").lower()
        if not sha2:
            raise MultipartError("an attachment part needs an X-Experience-API-Hash header")
        if headers.get("content-transfer-encoding", "binary").lower() != "binary":
            raise MultipartError("an attachment part must use Content-Transfer-Encoding: binary")
        digest = {64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512, 56: hashlib.sha224}.get(len(sha2))
        if digest is None or digest(content).hexdigest() != sha2:
            raise MultipartError("an attachment part's content does not match its X-Experience-API-Hash")
        attachments[sha2] = (headers.get("content-type", "application/octet-stream"), content)
    return statements, attachments


def build(document: object, attachments: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """(body, content type) of a multipart/mixed response: the JSON document, then each attachment."""
    boundary = "xolap-" + secrets.token_hex(12)
    out = [f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(), orjson.dumps(document), b"\r\n"]
    for sha2, (content_type, content) in attachments.items():
        out += [
            f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {sha2}\r\n\r\n".encode(),
            content,
            b"\r\n",
        ]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f'multipart/mixed; boundary="{boundary}"'
