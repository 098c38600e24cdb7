"""In chromium, the data states that confuse a small section: one event (one learner, nobody at risk). The summary
counts in words that fit the number ("1 learner"), and the learners-at-risk chart, which counts the flagged learners
per reason, says that nobody is flagged instead of drawing an empty frame (Vega logged "Infinite extent" warnings),
with no picture to export."""

from __future__ import annotations

import json

SECTION_ID = 9101  # a section of its own project (9), so no other test's counts change
STATEMENT = {
    "id": "9b6f1d5e-0000-4000-8000-000000009101",
    "actor": {"objectType": "Agent", "account": {"homePage": "https://torus.example.edu", "name": "9101"}},
    "verb": {"id": "https://w3id.org/xapi/video/verbs/played", "display": {"en-US": "played"}},
    "object": {
        "objectType": "Activity",
        "id": "https://cdn.example.edu/media/one.mp4",
        "definition": {"type": "https://w3id.org/xapi/video/activity-type/video", "name": {"en-US": "One video"}},
    },
    "result": {"extensions": {"https://w3id.org/xapi/video/extensions/time": 0.0}},
    "context": {
        "extensions": {
            "http://oli.cmu.edu/extensions/section_id": SECTION_ID,
            "http://oli.cmu.edu/extensions/project_id": 9,
            "http://oli.cmu.edu/extensions/resource_id": 4401,
        }
    },
    "timestamp": "2026-10-03T14:05:11.123Z",
}


def watch_console(page) -> list[str]:
    """Console errors and warnings, page errors and failed requests of `page`, as they come."""
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    page.on("response", lambda r: messages.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    return messages


def send_one_event(page) -> None:
    page.goto("/admin/console")
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    answer = page.request.post(
        "/api/v1/statements",
        data=json.dumps(STATEMENT),
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf or ""},
    )
    assert answer.ok, answer.text()
    page.goto("/admin/scopes")  # the section appears once the events are synced (the admin's button)
    page.click("main form[action='/admin/scopes/sync'] [type=submit]")
    page.wait_for_load_state()


def test_a_section_with_one_event_reads_right_and_draws_no_empty_chart(page, log_in):
    messages = watch_console(page)
    log_in(page, "admin")
    send_one_event(page)
    page.goto(f"/sections/{SECTION_ID}/analytics#learners_at_risk")
    page.wait_for_selector("#summary .summary-card", timeout=30_000)
    video = page.locator("#summary .summary-card[data-event-type=video] .detail").inner_text()
    assert video.startswith("1 learner ·"), video
    chart = page.locator("#panel-learners_at_risk .chart")
    page.wait_for_selector("#panel-learners_at_risk .chart[data-drawn]", timeout=30_000)
    assert chart.locator("svg").count() == 0, "an empty chart frame was drawn"
    assert "No learner is flagged" in chart.inner_text()
    assert "No learner is flagged" in page.locator("#panel-learners_at_risk .category-table").inner_text()
    buttons = "#panel-learners_at_risk [data-format={}]"
    assert page.locator(buttons.format("png")).is_disabled() and page.locator(buttons.format("svg")).is_disabled()
    assert page.locator(buttons.format("csv")).is_enabled()
    # the learner is still in the rows behind it (and in the CSV export)
    assert page.locator("#panel-learners_at_risk .meta").inner_text().startswith("1 row ·")
    page.wait_for_timeout(200)
    assert messages == [], messages
