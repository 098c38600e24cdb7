"""In chromium, an author's words match what the page shows: on a phone the sections-compared charts are stacked one
above the other, so the explanation under them cannot say "Left" and "Right"; and no category's words show the JSON's
field names in backticks (`section_label`), which the author never sees (they belong to docs/dashboard-json.md)."""

from __future__ import annotations

import re

import pytest

PANEL = "#panel-section_comparison"


@pytest.mark.parametrize("width", (375, 1280))
def test_the_sections_compared_words_fit_the_layout_at_any_width(browser, xolap_server, log_in, width):
    context = browser.new_context(viewport={"width": width, "height": 800}, base_url=xolap_server.url)
    page = context.new_page()
    log_in(page, "author")
    page.goto("/projects/intro-physics/analytics#section_comparison")
    page.wait_for_selector(f"{PANEL} .chart[data-drawn=true] svg", timeout=30_000)
    words = page.locator(f"{PANEL} .explanation").all_inner_texts()
    assert not any(re.search(r"\b(Left|Right)\b", text) for text in words), words
    every_category = page.locator("[role=tabpanel] > .explanation").all_inner_texts()
    assert not [text for text in every_category if "`" in text]
    context.close()
