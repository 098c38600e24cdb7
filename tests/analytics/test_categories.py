"""Curated categories on hand-built events with known answers: numbers, titles, dates, scope isolation, specs."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime

import pytest
import vl_convert

from xolap.analytics.categories import CATEGORIES, CategoryError, event_summary, list_categories, run_category
from xolap.analytics.titles import import_titles

PLAYED = "https://w3id.org/xapi/video/verbs/played"
PAUSED = "https://w3id.org/xapi/video/verbs/paused"
V_COMPLETED = "https://w3id.org/xapi/video/verbs/completed"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VIEWED = "http://id.tincanapi.com/verb/viewed"
V1 = "https://videos.example/intro.mp4"
V2 = "https://videos.example/other.mp4"

_hash = itertools.count(1)


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00").replace(tzinfo=UTC)


def event(section: int, project: int, user: str, when: datetime, event_type: str, **values) -> dict:
    row = {
        "section_id": section,
        "project_id": project,
        "user_id": user,
        "timestamp": when,
        "event_type": event_type,
        "verb_id": values.pop("verb_id", COMPLETED),
        "event_hash": values.pop("event_hash", f"h{next(_hash):06d}"),
    }
    row.update(values)
    return row


def video(section, project, user, when, verb, url, progress=None):
    return event(
        section, project, user, when, "video", verb_id=verb, video_url=url, video_progress=progress, video_time=1.0
    )


def page(section, project, user, when, page_id, completion, name=None, **values):
    return event(
        section,
        project,
        user,
        when,
        "page_viewed",
        verb_id=VIEWED,
        page_id=page_id,
        completion=completion,
        object_name=name,
        **values,
    )


def activity(section, project, user, when, activity_id, score, success):
    return event(
        section, project, user, when, "activity_attempt", activity_id=activity_id, scaled_score=score, success=success
    )


def part(section, project, user, when, score, hints):
    return event(
        section,
        project,
        user,
        when,
        "part_attempt",
        activity_id=500,
        scaled_score=score,
        success=score >= 0.8,
        hints_requested=hints,
    )


D1, D2, LATE = "2026-03-02", "2026-03-03", "2026-04-20"  # Mon, Tue, Mon

SECTION_1 = [
    video(1, 10, "u1", at(D1), PLAYED, V1),
    video(1, 10, "u1", at(D1, 10, 5), V_COMPLETED, V1, 1.0),
    video(1, 10, "u2", at(D1), PLAYED, V1),
    video(1, 10, "u2", at(D1, 10, 6), PAUSED, V1, 0.85),
    video(1, 10, "u3", at(D1), PLAYED, V1),
    video(1, 10, "u3", at(D1, 10, 7), PAUSED, V1, 0.3),
    video(1, 10, "u1", at(D2, 14), PLAYED, V2),
    activity(1, 10, "u1", at(D1), 500, 1.0, True),
    activity(1, 10, "u2", at(D1), 500, 0.5, False),
    activity(1, 10, "u3", at(D1), 500, 0.0, False),
    activity(1, 10, "u1", at(D2, 14), 501, 0.8, True),
    page(1, 10, "u1", at(D1), 100, True, "Welcome (from statements)"),
    page(1, 10, "u2", at(D1), 100, False),
    page(1, 10, "u1", at(D2, 14), 100, True, event_hash="dup-1"),
    page(1, 10, "u3", at(D2, 14), 101, False),
    page(1, 10, "u2", at(LATE, 9), 101, True),
    part(1, 10, "u1", at(D1), 0.1, 2),
    part(1, 10, "u2", at(D1), 0.15, 0),
    part(1, 10, "u3", at(D1), 0.5, 1),
    part(1, 10, "u1", at(D2, 14), 1.0, 0),
    part(1, 10, "u2", at(D2, 14), 0.85, 3),
]
SECTION_2 = [
    video(2, 10, "u4", at(D1), PLAYED, V1),
    video(2, 10, "u4", at(D1, 11), V_COMPLETED, V1, 1.0),
    activity(2, 10, "u4", at(D1), 500, 0.9, True),
    page(2, 10, "u4", at(D1), 100, True),
]
# Another project reusing the same ids and a learner name: must never leak into section 1 or project 10.
SECTION_3 = [
    page(3, 20, "u1", at(D1), 100, True, "Other course page"),
    page(3, 20, "u9", at(D1), 100, True),
    activity(3, 20, "u1", at(D1), 500, 0.1, False),
    video(3, 20, "u1", at(D1), PLAYED, V1),
]


@pytest.fixture()
def course(ch_db):
    client, settings = ch_db
    rows = SECTION_1 + SECTION_2 + SECTION_3 + [dict(SECTION_1[13])]  # re-ingested duplicate of "dup-1"
    columns = sorted({key for row in rows for key in row})
    client.insert(
        f"`{settings.clickhouse_database}`.raw_events",
        [[row.get(c) for c in columns] for row in rows],
        column_names=columns,
    )
    import_titles(
        client,
        settings,
        [
            {"project_id": 10, "kind": "video", "content_id": V1, "title": "Intro video"},
            {"project_id": 10, "kind": "activity", "content_id": "500", "title": "Quiz 1"},
            {"project_id": 10, "kind": "page", "content_id": "100", "title": "Welcome"},
        ],
    )
    return client, settings


def run(course, key, scope="section", scope_id=1, **kw):
    client, settings = course
    return run_category(client, settings, key, scope=scope, scope_id=scope_id, **kw)


def pick(rows, **match):
    found = [row for row in rows if all(row[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


def test_video_counts_plays_viewers_and_completions(course):
    result = run(course, "video")
    assert [r["video_title"] for r in result.rows] == ["Intro video", "Video other.mp4"]
    intro = result.rows[0]
    assert (intro["plays"], intro["viewers"], intro["completions"]) == (3, 3, 2)
    assert intro["completion_rate_pct"] == 66.7
    assert intro["avg_progress_pct"] == pytest.approx((1.0 + 0.85 + 0.3) / 3 * 100, abs=0.05)
    assert result.rows[1]["plays"] == 1 and result.rows[1]["completions"] == 0
    assert result.enough_data
    assert result.spec["data"]["values"] == result.rows
    assert "{xolap_scope_id:UInt64}" in result.sql and result.parameters["xolap_scope_id"] == 1
    assert set(result.parameters) == {"xolap_scope_id", "xolap_builds"}  # read from the rollup's current builds


def test_video_for_project_spans_its_sections_only(course):
    intro = pick(run(course, "video", scope="project", scope_id=10).rows, video_url=V1)
    assert (intro["plays"], intro["viewers"], intro["completions"]) == (4, 4, 3)


def test_assessment_per_activity(course):
    rows = run(course, "assessment").rows
    quiz = pick(rows, activity_id=500)
    assert (quiz["activity_title"], quiz["attempts"], quiz["learners"]) == ("Quiz 1", 3, 3)
    assert (quiz["avg_score_pct"], quiz["success_rate_pct"]) == (50.0, 33.3)
    other = pick(rows, activity_id=501)
    assert (other["activity_title"], other["attempts"], other["avg_score_pct"], other["success_rate_pct"]) == (
        "Activity 501",
        1,
        80.0,
        100.0,
    )


def test_engagement_pages_and_heatmap_cells(course):
    rows = run(course, "engagement").rows
    welcome = [r for r in rows if r["page_id"] == 100]
    assert {r["page_title"] for r in welcome} == {"Welcome"}  # the import wins over the statement's name
    assert (welcome[0]["views"], welcome[0]["viewers"], welcome[0]["completed"], welcome[0]["completion_pct"]) == (
        3,
        2,
        2,
        66.7,
    )  # the duplicate of dup-1 counts once
    assert {r["granularity"] for r in rows} == {"week"}  # 2 Mar .. 20 Apr spans 49 days
    assert run(course, "engagement").extra == {"grain": "week"}
    cells = {(r["page_id"], r["period"]): r["period_views"] for r in rows}
    assert cells == {(100, "2026-03-02"): 3, (101, "2026-03-02"): 1, (101, "2026-04-20"): 1}
    assert pick(rows, page_id=101, period="2026-03-02")["page_title"] == "Page 101"


def test_engagement_date_range_uses_days_and_drops_later_events(course):
    result = run(course, "engagement", start=date(2026, 3, 1), end=date(2026, 3, 31))
    cells = {(r["page_id"], r["period"]): r["period_views"] for r in result.rows}
    assert cells == {(100, "2026-03-02"): 2, (100, "2026-03-03"): 1, (101, "2026-03-03"): 1}
    assert {r["granularity"] for r in result.rows} == {"day"}
    dates = {"xolap_scope_id": 1, "xolap_start": "2026-03-01", "xolap_end": "2026-03-31"}
    assert {name: value for name, value in result.parameters.items() if name != "xolap_builds"} == dates
    assert result.parameters["xolap_builds"]  # read from the rollup's current builds
    assert "{xolap_start:Date32}" in result.sql and "2026-03" not in result.sql


def test_engagement_heatmap_marks_its_partial_periods_like_the_time_series(course):
    # no dates: the span is 2 Mar .. 20 Apr (weekly); only Monday 20 April of its last week is inside it
    rows = run(course, "engagement").rows
    status = {(r["page_id"], r["period"]): (r["covered_days"], r["period_days"], r["partial"]) for r in rows}
    assert status == {
        (100, "2026-03-02"): (7, 7, False),
        (101, "2026-03-02"): (7, 7, False),
        (101, "2026-04-20"): (1, 7, True),
    }
    assert {r["period_status"] for r in rows if r["partial"]} == {"partial"}
    assert {r["period_status"] for r in rows if not r["partial"]} == {"complete"}
    # dates from a Tuesday to a Tuesday: the first week has 6 of its days inside them, the last 2
    dated = run(course, "engagement", start=date(2026, 3, 3), end=date(2026, 4, 21)).rows
    assert {(r["period"], r["covered_days"], r["partial"]) for r in dated} == {
        ("2026-03-02", 6, True),
        ("2026-04-20", 2, True),
    }
    # a daily heatmap has no partial day; the chart fades partial cells and says so in its tooltip and legend
    daily = run(course, "engagement", start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert not any(r["partial"] for r in daily.rows)
    heatmap = daily.spec["vconcat"][1]["encoding"]
    assert heatmap["opacity"]["field"] == "period_status" and heatmap["opacity"]["legend"]
    assert {"period_status", "covered_days"} <= {tip["field"] for tip in heatmap["tooltip"]}
    assert {"first_day", "last_day"}.isdisjoint(daily.rows[0])


def test_end_date_is_inclusive(course):
    result = run(course, "cross_event", start=date(2026, 4, 20), end=date(2026, 4, 20))
    assert [(r["period"], r["grain"], r["event_type"], r["events"], r["partial"]) for r in result.rows] == [
        ("2026-04-20", "day", "page_viewed", 1, False)
    ]
    assert result.extra["grain"] == "day"


def test_performance_buckets_with_average_hints(course):
    rows = run(course, "performance").rows
    assert [(r["score_range"], r["attempts"], r["avg_hints"]) for r in rows] == [
        ("0–20%", 2, 1.0),
        ("20–40%", 0, 0.0),
        ("40–60%", 1, 1.0),
        ("60–80%", 0, 0.0),
        ("80–100%", 2, 1.5),
    ]


def test_cross_event_per_week_for_a_term_with_the_partial_last_week_marked(course):
    result = run(course, "cross_event")  # 2 Mar .. 20 Apr: 49 days, weekly
    assert result.extra == {"grain": "week"}
    assert [
        (r["period"], r["event_type_label"], r["events"], r["covered_days"], r["partial"]) for r in result.rows
    ] == [
        ("2026-03-02", "Activity attempts", 4, 7, False),
        ("2026-03-02", "Page views", 4, 7, False),
        ("2026-03-02", "Question attempts", 5, 7, False),
        ("2026-03-02", "Video interactions", 7, 7, False),
        ("2026-04-20", "Page views", 1, 1, True),  # only Monday 20 April has data: a partial week, not a collapse
    ]
    assert {r["period_status"] for r in result.rows} == {"complete", "partial"}
    assert result.spec["layer"][0]["encoding"]["x"]["title"] == "Week starting"


def test_cross_event_grain_fits_the_span(course):
    daily = run(course, "cross_event", start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert daily.extra["grain"] == "day" and {r["period"] for r in daily.rows} == {"2026-03-02", "2026-03-03"}
    monthly = run(course, "cross_event", start=date(2025, 10, 1), end=date(2026, 4, 25))  # 206 days
    assert monthly.extra["grain"] == "month"
    assert [(r["period"], r["event_type"], r["events"], r["partial"]) for r in monthly.rows] == [
        ("2026-03-01", "activity_attempt", 4, False),
        ("2026-03-01", "page_viewed", 4, False),
        ("2026-03-01", "part_attempt", 5, False),
        ("2026-03-01", "video", 7, False),
        ("2026-04-01", "page_viewed", 1, True),
    ]  # the range ends on 25 April: 25 of 30 days
    assert monthly.rows[-1]["covered_days"] == 25 and monthly.rows[-1]["period_days"] == 30
    assert sum(r["events"] for r in run(course, "cross_event", start=date(2020, 1, 1)).rows) == 21


def test_learners_at_risk_counts_back_from_last_activity(course):
    rows = run(course, "learners_at_risk").rows
    flagged = {r["learner"]: r for r in rows if r["at_risk"]}
    assert set(flagged) == {"u1", "u3"}
    assert flagged["u1"]["days_inactive"] == 48 and flagged["u1"]["reasons"] == "inactive 7+ days"
    assert pick(rows, learner="u2")["at_risk"] is False
    # With an end date the reference day is that date: on 10 Mar everyone was last seen on 3 Mar.
    early = run(course, "learners_at_risk", end=date(2026, 3, 10)).rows
    assert {r["learner"]: r["days_inactive"] for r in early} == {"u1": 7, "u2": 7, "u3": 7}


def test_weekday_hour_heatmap(course):
    rows = run(course, "weekday_hour").rows
    assert sum(r["events"] for r in rows) == 21
    monday_10 = pick(rows, day_name="Mon", hour=10)
    assert (monday_10["weekday"], monday_10["events"]) == (1, 14)
    assert pick(rows, day_name="Mon", hour=9)["events"] == 1  # 20 April


def test_hints_vs_success(course):
    rows = run(course, "hints_success").rows
    assert [(r["hints_label"], r["attempts"], r["success_rate_pct"], r["avg_score_pct"]) for r in rows] == [
        ("0", 2, 50.0, 57.5),
        ("1", 1, 0.0, 50.0),
        ("2", 1, 0.0, 10.0),
        ("3+", 1, 100.0, 85.0),
    ]


def test_course_progress_share_of_pages(course):
    rows = run(course, "course_progress").rows
    assert [r["learners"] for r in rows] == [0, 0, 0, 0, 0, 2, 0, 0, 0, 1]
    assert rows[9]["share_range"] == "90–100%" and rows[5]["total_pages"] == 2


def test_section_comparison_for_project(course):
    rows = run(course, "section_comparison", scope="project", scope_id=10).rows
    assert [r["section_id"] for r in rows] == [1, 2]
    s1, s2 = rows
    assert (s1["learners"], s1["events"], s1["avg_score_pct"], s1["page_completion_pct"]) == (3, 21, 57.5, 60.0)
    assert (s2["learners"], s2["events"], s2["avg_score_pct"], s2["page_completion_pct"]) == (1, 4, 90.0, 100.0)


def test_section_comparison_is_project_only(course):
    assert "section_comparison" not in [c.key for c in list_categories("section")]
    assert "section_comparison" in [c.key for c in list_categories("project")]
    with pytest.raises(CategoryError, match="only available for scope project"):
        run(course, "section_comparison")


def test_titles_are_per_project(course):
    rows = run(course, "engagement", scope="section", scope_id=3).rows
    assert {r["page_title"] for r in rows} == {"Other course page"}


@pytest.mark.parametrize("key", [k for k, c in CATEGORIES.items() if "section" in c.scopes])
def test_other_scopes_never_leak(course, key):
    client, settings = course
    own = run(course, key, scope_id=3)
    text = json.dumps(own.rows)
    assert "u4" not in text and "Intro video" not in text and "Quiz 1" not in text
    if key == "learners_at_risk":
        assert {r["learner"] for r in own.rows} == {"u1", "u9"}
    summary = event_summary(client, settings, "section", 3, None, None)
    assert {r["event_type"]: r["events"] for r in summary} == {"page_viewed": 2, "activity_attempt": 1, "video": 1}


@pytest.mark.parametrize("key", list(CATEGORIES))
def test_empty_scope_has_not_enough_data(course, key):
    scope = "project" if key == "section_comparison" else "section"
    result = run(course, key, scope=scope, scope_id=999)
    assert result.enough_data is False


@pytest.mark.parametrize("key", list(CATEGORIES))
def test_specs_render_to_svg(course, key):
    scope = "project" if key == "section_comparison" else "section"
    result = run(course, key, scope=scope, scope_id=10 if scope == "project" else 1)
    assert result.enough_data
    spec = json.loads(json.dumps(result.spec))  # JSON-ready
    assert spec["$schema"] == "https://vega.github.io/schema/vega-lite/v6.json"  # the version the dashboard loads
    svg = vl_convert.vegalite_to_svg(spec, vl_version="v6_4")
    assert svg.startswith("<svg") and ("<path" in svg or "<rect" in svg)


def test_event_summary_cards(course):
    client, settings = course
    summary = {r["event_type"]: r for r in event_summary(client, settings, "section", 1, None, date(2026, 3, 31))}
    assert summary["page_viewed"]["events"] == 4 and summary["page_viewed"]["learners"] == 3
    assert summary["video"]["first_event"].startswith("2026-03-02T10:00")
    assert summary["video"]["last_event"].startswith("2026-03-03T14:00")


def test_bad_arguments_are_explained(course):
    with pytest.raises(CategoryError, match="unknown category 'nope'"):
        run(course, "nope")
    with pytest.raises(CategoryError, match="scope must be one of"):
        run(course, "video", scope="course")
    with pytest.raises(CategoryError, match="after end"):
        run(course, "video", start=date(2026, 4, 1), end=date(2026, 3, 1))
    with pytest.raises(CategoryError, match="non-negative integer"):
        run(course, "video", scope_id="1 OR 1=1")


def test_project_scope_adds_up_its_sections(course):
    months = run(course, "cross_event", scope="project", scope_id=10).rows
    assert sum(r["events"] for r in months) == 25  # 21 in section 1 + 4 in section 2, none of project 20
    cells = run(course, "weekday_hour", scope="project", scope_id=10).rows
    assert sum(r["events"] for r in cells) == 25
    quiz = pick(run(course, "assessment", scope="project", scope_id=10).rows, activity_id=500)
    assert (quiz["attempts"], quiz["learners"], quiz["avg_score_pct"]) == (4, 4, 60.0)
    learners = {r["learner"] for r in run(course, "learners_at_risk", scope="project", scope_id=10).rows}
    assert learners == {"u1", "u2", "u3", "u4"}


def test_learners_at_risk_is_a_sortable_table_of_the_flagged_learners(course):
    result = run(course, "learners_at_risk")
    table = result.extra["table"]
    assert [c["field"] for c in table["columns"]] == [
        "learner",
        "last_active",
        "days_inactive",
        "recent_events",
        "avg_score_pct",
        "reasons",
    ]
    assert {c["type"] for c in table["columns"]} <= {"text", "date", "count", "percent"}
    assert all(c["title"] and "_" not in c["title"] for c in table["columns"])
    assert [(r["learner"], r["last_active"], r["days_inactive"], r["reasons"]) for r in table["rows"]] == [
        ("u1", "2026-03-03", 48, "inactive 7+ days"),
        ("u3", "2026-03-03", 48, "inactive 7+ days"),
    ]
    assert table["sort"]["field"] in {c["field"] for c in table["columns"]}
    assert "learner" in result.columns and "at_risk" in result.columns  # the CSV export keeps every learner returned
    svg = vl_convert.vegalite_to_svg(json.loads(json.dumps(result.spec)), vl_version="v6_4")
    assert svg.count('aria-roledescription="bar"') == 1 and "Inactive 7+ days" in svg  # two learners, one reason


def test_section_labels_drop_the_shared_course_name():
    from xolap.analytics.categories.section_comparison import label_sections

    rows = [
        {"section_id": k, "section": f"Probability and Statistics — Spring 2026 (Section {k:02d})"} for k in (1, 2, 3)
    ]
    assert [r["section_label"] for r in label_sections(rows)] == ["Section 01", "Section 02", "Section 03"]
    same = label_sections([{"section_id": 7, "section": "Stats"}, {"section_id": 8, "section": "Stats"}])
    assert [r["section_label"] for r in same] == ["Stats · #7", "Stats · #8"]
    assert label_sections([{"section_id": 9, "section": None}])[0]["section_label"] == "Section 9"


@pytest.mark.parametrize(
    "limit, kind, words",
    [
        ({"query_max_rows_to_read": 3}, "too_many_rows_read", "needs more events than a chart may read at once"),
        ({"query_max_bytes_to_read": 10}, "too_many_bytes_read", "needs more data than a chart may read at once"),
    ],
)
def test_a_failing_chart_is_explained_in_plain_words_with_the_detail_apart(course, limit, kind, words):
    from xolap.analytics.categories import CategoryFailure
    from xolap.analytics.executor import QueryError

    client, settings = course
    tight = settings.model_copy(update=limit)
    with pytest.raises(CategoryFailure) as failure:
        run_category(client, tight, "cross_event", scope="section", scope_id=1)
    error = failure.value
    assert isinstance(error, QueryError) and error.kind == kind
    assert error.message.startswith("“Activity over time” ") and words in error.message
    assert "Try a shorter date range." in error.message
    assert error.detail and error.detail != error.message and "_" not in error.message


def test_one_row_per_content_id_even_when_a_section_holds_events_of_two_projects(course):
    """Events of one section that carry different (or no) project ids still give one row, label and mark per id."""
    client, settings = course
    stray = [
        video(1, None, "u5", at(D1, 12), PLAYED, V1),
        video(1, 99, "u6", at(D1, 12), V_COMPLETED, V1, 1.0),
        page(1, None, "u5", at(D1, 12), 100, True),
        page(1, 99, "u6", at(D2, 12), 100, False),
        activity(1, None, "u5", at(D1, 12), 500, 1.0, True),
        activity(1, 99, "u6", at(D1, 12), 500, 0.0, False),
    ]
    columns = sorted({key for row in stray for key in row})
    client.insert(
        f"`{settings.clickhouse_database}`.raw_events",
        [[row.get(c) for c in columns] for row in stray],
        column_names=columns,
    )
    for key, id_field, label_field in (
        ("video", "video_url", "video_label"),
        ("assessment", "activity_id", "activity_label"),
        ("engagement", "page_id", "page_label"),
    ):
        rows = run(course, key).rows
        per_id = {}
        for row in rows:
            per_id.setdefault(row[id_field], set()).add(row[label_field])
        assert all(len(labels) == 1 for labels in per_id.values()), (key, rows)
        if key != "engagement":
            assert len(rows) == len(per_id), (key, rows)  # one row per id
    intro = pick(run(course, "video").rows, video_url=V1)
    assert (intro["video_title"], intro["plays"], intro["viewers"], intro["completions"]) == ("Intro video", 4, 5, 3)
    assert intro["completion_rate_pct"] == 60.0
    quiz = pick(run(course, "assessment").rows, activity_id=500)
    assert (quiz["activity_title"], quiz["attempts"], quiz["learners"]) == ("Quiz 1", 5, 5)
    welcome = [r for r in run(course, "engagement").rows if r["page_id"] == 100]
    assert {(r["page_title"], r["views"], r["viewers"]) for r in welcome} == {("Welcome", 5, 4)}


def test_scores_outside_0_to_1_never_make_a_percentage_outside_0_to_100(course):
    """xAPI's scaled score should lie in -1..1 and Torus's in 0..1; a statement saying 1.5 or -0.5 (stored as sent)
    must not draw an average above 100% or below 0%: charts count such a score as 100% or 0%."""
    client, settings = course
    odd = [
        activity(1, 10, "u7", at(D1, 13), 500, 9.0, True),
        activity(1, 10, "u7", at(D1, 14), 500, 1.5, True),
        activity(1, 10, "u7", at(D1, 15), 500, 2.0, True),
        activity(1, 10, "u8", at(D1, 13), 501, -0.5, False),
        part(1, 10, "u7", at(D1, 13), 3.0, 0),
        part(1, 10, "u8", at(D1, 13), -2.0, 0),
    ]
    columns = sorted({key for row in odd for key in row})
    client.insert(
        f"`{settings.clickhouse_database}`.raw_events",
        [[row.get(c) for c in columns] for row in odd],
        column_names=columns,
    )
    for key in CATEGORIES:
        scope, scope_id = ("project", 10) if key == "section_comparison" else ("section", 1)
        for row in run(course, key, scope=scope, scope_id=scope_id).rows:
            for name, value in row.items():
                if name.endswith("_pct") and value is not None:
                    assert 0 <= value <= 100, (key, name, row)
    u7 = pick(run(course, "learners_at_risk").rows, learner="u7")
    assert u7["avg_score_pct"] == 100.0 and u7["scored_attempts"] == 3
    quiz = pick(run(course, "assessment").rows, activity_id=500)
    assert quiz["attempts"] == 6 and quiz["avg_score_pct"] == round((1.0 + 0.5 + 0.0 + 1 + 1 + 1) / 6 * 100, 1)


def test_event_types_the_mapping_never_writes_keep_a_series_and_a_card_each(course):
    client, settings = course
    odd = [
        event(1, 10, "u1", at(D1, 16), "unknown"),
        event(1, 10, "u1", at(D1, 16), "forum_post"),
        event(1, 10, "u2", at(D1, 17), "forum post"),
        event(1, 10, "u2", at(D1, 17), "forum_post"),
    ]
    columns = sorted({key for row in odd for key in row})
    client.insert(
        f"`{settings.clickhouse_database}`.raw_events",
        [[row.get(c) for c in columns] for row in odd],
        column_names=columns,
    )
    series = run(course, "cross_event").rows
    label_of = {}
    for row in series:
        label_of.setdefault(row["event_type"], set()).add(row["event_type_label"])
    assert all(len(labels) == 1 for labels in label_of.values())
    labels = [next(iter(labels)) for labels in label_of.values()]
    assert len(set(labels)) == len(labels) == 7 and "Other" in labels
    assert all("_" not in label for label in labels)
    assert sum(r["events"] for r in series if r["event_type"].startswith("forum")) == 3
    cards = event_summary(client, settings, "section", 1)
    assert len({card["label"] for card in cards}) == len(cards) == 7
