"""Chart labels: instructor words for event types, shared starts removed, middle ellipsis, one label per id."""

from __future__ import annotations

import pytest

from xolap.analytics.labels import (
    MAX_LABEL_CHARS,
    add_labels,
    event_type_label,
    event_type_labels,
    middle_ellipsis,
    short_names,
    unique_labels,
    video_short_id,
)
from xolap.xapi.fields import EVENT_TYPES


def test_every_stored_event_type_has_instructor_words():
    words = {event_type: event_type_label(event_type) for event_type in EVENT_TYPES}
    assert words["page_viewed"] == "Page views" and words["part_attempt"] == "Question attempts"
    assert words["unknown"] == "Other"
    for event_type, label in words.items():
        assert "_" not in label and label[0].isupper() and label != event_type.upper()
    assert len(set(words.values())) == len(words)
    for odd in (None, "", "PART_ATTEMPT ", "something_new"):
        assert "_" not in event_type_label(odd)
    assert event_type_label("PART_ATTEMPT ") == "Question attempts"
    assert event_type_label("forum_post") == "Other (forum post)"


def test_odd_event_types_keep_one_label_each():
    assert event_type_labels(["unknown", "video"]) == {"unknown": "Other", "video": "Video interactions"}
    words = event_type_labels(["unknown", None, "forum_post", "forum post", "page_viewed", "x" * 200])
    assert words["unknown"].startswith("Other") and words["page_viewed"] == "Page views"
    assert len(set(words.values())) == 6 and all(len(label) <= MAX_LABEL_CHARS + 4 for label in words.values())


def test_sections_of_one_course_lose_the_shared_start():
    names = [f"Probability and Statistics — Spring 2026 (Section {k:02d})" for k in (1, 2, 3)]
    assert short_names(names) == ["Section 01", "Section 02", "Section 03"]
    assert short_names(["Physics · Fall cohort", "Physics · Evening cohort"]) == ["Fall cohort", "Evening cohort"]
    mixed = [
        "Probability and Statistics — Spring 2026 (Section 01)",
        "Probability and Statistics — Fall 2026 (Section 01)",
    ]
    assert short_names(mixed) == ["Spring 2026 (Section 01)", "Fall 2026 (Section 01)"]


@pytest.mark.parametrize(
    "names",
    [
        ["Unit 1: Exploratory Data Analysis", "Unit 2: Producing Data"],  # "Unit" is shared but not up to a separator
        ["Same", "Same"],
        ["Only one"],
        ["Course — A", "Course — A", "Course — B"],
        ["Course — ", "Course — B"],
    ],
)
def test_names_keep_what_tells_them_apart(names):
    short = short_names(names)
    assert len(set(short)) == len(set(names)) and all(short)
    if names[0].startswith("Unit"):
        assert short == names


def test_middle_ellipsis_keeps_start_and_end():
    title = "Unit 1: Exploratory Data Analysis — Quiz on Measures of Center"
    cut = middle_ellipsis(title, 30)
    assert len(cut) == 30 and cut.startswith("Unit 1: Explor") and cut.endswith("of Center") and "…" in cut
    assert middle_ellipsis("Short", 30) == "Short"
    assert middle_ellipsis("  spaced\n  out  ", 30) == "spaced out"


def test_repeated_titles_get_one_label_per_id():
    items = [
        ("v1", "Distributions: A Worked Example", "distributions-1.mp4"),
        ("v2", "Distributions: A Worked Example", "distributions-2.mp4"),
        ("v3", "Boxplots Explained", "boxplots-1.mp4"),
    ]
    labels = unique_labels(items)
    assert labels["v3"] == "Boxplots Explained"
    assert labels["v1"] != labels["v2"] and "distributions-1" in labels["v1"] and "distributions-2" in labels["v2"]
    assert all(len(label) <= MAX_LABEL_CHARS for label in labels.values())


def test_titles_that_only_differ_in_the_middle_stay_apart_when_cut():
    a = "Unit 4: Random Variables — " + "x" * 40 + " — Question 1 of the unit quiz"
    b = "Unit 4: Random Variables — " + "y" * 40 + " — Question 1 of the unit quiz"
    labels = unique_labels([(1, a, "#1"), (2, b, "#2"), (3, a, "#3")])
    assert len(set(labels.values())) == 3
    # a label that happens to equal another id's disambiguated label still ends unique
    tricky = unique_labels([(1, "A", "x"), (2, "A", "x"), (3, "A · x", "y"), (4, "A · x #1", "z")])
    assert len(set(tricky.values())) == 4


def test_add_labels_gives_rows_of_one_id_the_same_label():
    rows = [
        {"page_id": 7, "page_title": "Overview", "period": "2026-03-02"},
        {"page_id": 7, "page_title": "Overview", "period": "2026-03-09"},
        {"page_id": 8, "page_title": "Overview", "period": "2026-03-02"},
        {"page_id": 9, "page_title": "", "period": "2026-03-02"},
    ]
    labelled = add_labels(rows, id_field="page_id", title_field="page_title", label_field="page_label")
    by_id = {}
    for row in labelled:
        by_id.setdefault(row["page_id"], set()).add(row["page_label"])
    assert all(len(labels) == 1 for labels in by_id.values())
    assert len({next(iter(labels)) for labels in by_id.values()}) == 3
    assert by_id[9] == {"#9"}


def test_video_short_id_is_the_file_name():
    assert video_short_id("https://media.example/prob-stats/distributions-2.mp4") == "distributions-2"
    assert video_short_id("https://media.example/v.mp4?t=3") == "v"
    assert video_short_id("plain") == "plain" and video_short_id("https://media.example/") == "https://media.example/"
