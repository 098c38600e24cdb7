"""In chromium: charts an instructor can read — the page-engagement heatmap fades and names its partial periods, the
video chart's long labels are cut short (full title in the tooltip) without its axis title running into them at a
phone's and a laptop's width, and summary cards show the instructors' words as written (not upper-cased)."""

from __future__ import annotations

import json

import pytest

# A title as long as a label may be (labels.MAX_LABEL_CHARS = 42 characters), different at its end.
LONG_TITLE = "Distributions and Sampling: A Worked Ex {:02d}"

# Boxes of the y axis' labels and title, of the chart's card and of the bars, in page px.
AXIS_BOXES = """(panel) => {
  const box = (node) => { const r = node.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; };
  const chart = document.querySelector(panel + ' .chart');
  const axis = [...chart.querySelectorAll('svg .role-axis')].find(
    (node) => /^Y-axis/.test(node.getAttribute('aria-label') || ''));
  return {
    card: box(chart),
    labels: [...axis.querySelectorAll('.role-axis-label text')].map((t) => ({...box(t), text: t.textContent})),
    title: [...axis.querySelectorAll('.role-axis-title text')].map(box),
    bars: [...chart.querySelectorAll('svg .role-mark path')].map(box),
  };
}"""


def overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
    )


def _long_video_titles(route):
    """The real video answer with every video titled as long as a label may be."""
    body = route.fetch().json()
    for index, row in enumerate(body["rows"]):
        row["video_title"] = row["video_label"] = LONG_TITLE.format(index)
    body["spec"]["data"] = {"values": body["rows"]}
    route.fulfill(status=200, content_type="application/json", body=json.dumps(body))


@pytest.mark.parametrize("width", (390, 1280))
def test_video_labels_are_cut_short_and_the_axis_title_clears_them(browser, xolap_server, log_in, width):
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=xolap_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    page.route("**/analytics/categories/video*", _long_video_titles)
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics#video")
    page.wait_for_selector("#panel-video .chart[data-drawn=true] svg .role-mark path", timeout=30_000)
    page.wait_for_timeout(300)
    boxes = page.evaluate(AXIS_BOXES, "#panel-video")
    card, labels, titles, bars = boxes["card"], boxes["labels"], boxes["title"], boxes["bars"]
    assert labels and titles and bars
    for label in labels:
        assert label["x"] >= card["x"] - 1, (width, label, card)  # no label starts outside the card
        for title in titles:
            assert not overlaps(label, title), (width, label, title)
    # the labels leave the bars most of the width: at most 40 % of the card, and cut with an ellipsis when they must
    widest = max(label["w"] for label in labels)
    assert widest <= 0.4 * card["w"], (width, widest, card["w"])
    if width == 390:
        assert all(label["text"].endswith("…") for label in labels), [label["text"] for label in labels]
    # the whole title is one hover away
    page.hover("#panel-video .chart svg .role-mark path >> nth=0")
    page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
    assert LONG_TITLE.format(0)[:-3] in page.locator("#vg-tooltip-element").inner_text()
    assert errors == []
    context.close()


def test_summary_cards_show_the_instructors_words_as_written(page, log_in):
    log_in(page, "teacher")
    page.goto("/sections/physics-fall/analytics")
    page.wait_for_selector("#summary .summary-card", timeout=30_000)
    labels = page.locator("#summary .summary-card .label")
    shown = labels.all_inner_texts()  # as rendered, after any CSS text-transform
    written = [text.strip() for text in labels.all_text_contents()]
    assert "Page views" in shown and "All events" in shown, shown
    assert [text.strip() for text in shown] == written
    assert page.errors == []  # type: ignore[attr-defined]


def test_engagement_heatmap_fades_and_names_its_partial_periods(page, log_in):
    log_in(page, "teacher")
    # Wednesday to Wednesday: the first and last weeks are only partly inside the dates
    page.goto("/sections/physics-fall/analytics?start=2026-08-05&end=2026-10-14#engagement")
    page.wait_for_selector("#panel-engagement .chart[data-drawn=true] svg", timeout=30_000)
    note = page.locator("#panel-engagement .grain")
    assert note.get_attribute("data-grain") == "week"
    assert "week of 2026-08-03 (5 of 7 days)" in note.inner_text()
    legends = " ".join(page.locator("#panel-engagement .chart svg .role-legend").all_text_contents())
    assert "partial" in legends and "complete" in legends
    faded = page.locator("#panel-engagement .chart svg .role-mark path[opacity='0.35']")
    cells = page.locator("#panel-engagement .chart svg .role-mark path")
    assert 0 < faded.count() < cells.count()
    assert page.errors == []  # type: ignore[attr-defined]
