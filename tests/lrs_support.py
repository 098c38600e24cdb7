"""Helpers for the LRS tests: a TestClient and a fresh LRS credential with its Basic auth headers."""

from __future__ import annotations

import base64
from contextlib import contextmanager

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


@contextmanager
def live_lrs(runtime, scopes=credentials.DEFAULT_SCOPES):
    """The app served by uvicorn on 127.0.0.1 (a real client such as TinCanPython needs a socket); yields
    (endpoint ending in /xAPI/, key, secret) and stops the server on exit."""
    import threading
    import time

    import uvicorn

    from support import free_port

    cred, secret = new_credential(runtime, scopes=scopes)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "LRS test server did not start"
    try:
        yield f"http://127.0.0.1:{port}/xAPI/", cred.key, secret
    finally:
        server.should_exit = True
        thread.join(timeout=20)
