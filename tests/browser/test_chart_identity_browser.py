"""In chromium, with content of a project sharing one title (the test events have one video and three pages; two pages
and the video get the same title): the section and project dashboards draw one bar per content id, pages that share
the title told apart by their labels, and no video bar goes past 100 % (bars of a shared title were once stacked into
one of 103 %). The same over generated data for every category: tests/analytics/test_categories_identity.py."""

from __future__ import annotations

import json

SHARED = "Distributions: A Worked Example"
TITLES = [
    {"project_id": 1, "kind": "video", "content_id": f"https://videos.example/v{i}.mp4", "title": SHARED}
    for i in range(2)
] + [{"project_id": 1, "kind": "page", "content_id": str(page_id), "title": SHARED} for page_id in (1000, 1001)]

# the y axis' labels, the bars' right edges and where the x axis says 100, in page px
VIDEO_MARKS = """() => {
  const chart = document.querySelector('#panel-video .chart');
  const axis = (name) => [...chart.querySelectorAll('svg .role-axis')].find(
    (node) => (node.getAttribute('aria-label') || '').startsWith(name));
  const hundred = [...axis('X-axis').querySelectorAll('.role-axis-label text')].find((t) => t.textContent === '100');
  const box = hundred.getBoundingClientRect();
  return {
    labels: [...axis('Y-axis').querySelectorAll('.role-axis-label text')].map((t) => t.textContent),
    rights: [...chart.querySelectorAll('svg .role-mark path')].map((p) => p.getBoundingClientRect().right),
    hundred: box.left + box.width / 2,
  };
}"""


def import_titles(page) -> None:
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    answer = page.request.post(
        "/api/v1/admin/analytics/titles",
        data=json.dumps({"filename": "titles.json", "content": json.dumps(TITLES)}),
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf or ""},
    )
    assert answer.ok, answer.text()
    assert answer.json()["imported"] == len(TITLES)


def test_videos_sharing_a_title_get_a_bar_each_and_none_passes_100_percent(page, log_in):
    log_in(page, "admin")
    page.goto("/admin/console")
    import_titles(page)
    for path in ("/sections/physics-fall/analytics", "/projects/intro-physics/analytics"):
        page.goto(path + "#video")
        page.wait_for_selector("#panel-video .chart[data-drawn=true] svg .role-mark path", timeout=30_000)
        marks = page.evaluate(VIDEO_MARKS)
        api = page.locator("#dashboard").get_attribute("data-api")
        videos = page.request.get(f"{api}/categories/video").json()["rows"]
        assert videos and len({row["video_url"] for row in videos}) == len(videos)
        assert marks["labels"] == [row["video_label"] for row in videos], (path, marks)
        assert all(label.startswith("Distributions") for label in marks["labels"]), marks
        assert len(marks["rights"]) == len(videos), (path, marks)  # one bar per video id, nothing stacked
        assert all(right <= marks["hundred"] + 1 for right in marks["rights"]), (path, marks)
        # the page-engagement bars tell the two pages apart too
        page.click("#tab-engagement")
        page.wait_for_selector("#panel-engagement .chart[data-drawn=true] svg", timeout=30_000)
        bar_labels = page.evaluate(
            """() => [...[...document.querySelectorAll('#panel-engagement .chart svg .role-axis')]
                .find((node) => (node.getAttribute('aria-label') || '').startsWith('Y-axis'))
                .querySelectorAll('.role-axis-label text')].map((t) => t.textContent)"""
        )
        shared = [text for text in bar_labels if text.startswith("Distributions")]
        assert len(shared) == 2 and len(set(shared)) == 2, (path, bar_labels)
    assert page.errors == []  # type: ignore[attr-defined]
