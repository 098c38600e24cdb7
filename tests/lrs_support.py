"""Helpers for the LRS tests: a TestClient and a fresh LRS credential with its Basic auth headers."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from xolap.lrs import credentials
from xolap.web.app import create_app

V103 = {"X-Experience-API-Version": "1.0.3"}


def basic(key: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


def new_credential(runtime, name: str = "test lrs", scopes=credentials.DEFAULT_SCOPES, **limits):
    with runtime.sessions() as session:
        cred, secret = credentials.create(session, name, scopes, **limits)
        session.commit()
    return cred, secret


def lrs_client(runtime, scopes=credentials.DEFAULT_SCOPES, **limits):
    """(client, headers with Basic auth and version 1.0.3, credential)."""
    cred, secret = new_credential(runtime, scopes=scopes, **limits)
    return TestClient(create_app(runtime)), basic(cred.key, secret) | V103, cred
