"""Admin pages through the real app: users and roles, tokens, flags, scopes (sync, import, rename), the ClickHouse
console with migrations (down needs confirmation), each as HTML and JSON."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from xolap.store import accounts, flags
from xolap.store.models import Membership, Project, Section
from xolap.web.app import create_app


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


@pytest.fixture()
def admin(runtime):
    with runtime.sessions() as session:
        accounts.create_user(session, "root@example.org", password="admin password", is_admin=True)
        session.add_all(
            [Project(id=7, slug="physics", title="Physics"), Section(id=11, slug="phys-a", title="A", project_id=7)]
        )
        session.commit()
    client = TestClient(create_app(runtime))
    page = client.get("/login")
    client.post(
        "/login", data={"email": "root@example.org", "password": "admin password", "csrf_token": csrf_of(page.text)}
    )
    client.headers["X-CSRF-Token"] = csrf_of(client.get("/account").text)
    return client


JSON = {"Accept": "application/json"}


def test_add_user_with_field_errors_then_grant_and_token(runtime, admin):
    bad = admin.post("/admin/users", data={"email": "nope", "password": "short"})
    assert bad.status_code == 400 and "invalid email address" in bad.text and "at least 8 characters" in bad.text
    created = admin.post(
        "/admin/users", data={"email": "Ines@example.org", "password": "instructor pw"}, follow_redirects=False
    )
    assert created.status_code == 303
    user_id = int(created.headers["location"].rsplit("/", 1)[1])
    assert admin.post("/admin/users", data={"email": "ines@example.org"}).status_code == 400
    wrong = admin.post(f"/admin/users/{user_id}/grant", data={"kind": "section", "ref": "nope"})
    assert wrong.status_code == 400 and "no section with id or slug" in wrong.text
    assert admin.post(f"/admin/users/{user_id}/grant", data={"kind": "section", "ref": "phys-a"}).status_code == 200
    assert admin.post(f"/admin/users/{user_id}/grant", data={"kind": "project", "ref": "7"}).status_code == 200
    token = admin.post(f"/admin/users/{user_id}/tokens", data={"name": "nb"}, headers=JSON)
    assert token.status_code == 201 and token.json()["token"].startswith("xolap_")
    detail = admin.get(f"/admin/users/{user_id}", headers=JSON).json()
    assert {(m["role"], m["slug"]) for m in detail["memberships"]} == {("instructor", "phys-a"), ("author", "physics")}
    assert "token" not in detail and detail["tokens"][0]["name"] == "nb"
    users = admin.get("/admin/users", headers=JSON).json()["users"]
    assert [u["email"] for u in users] == ["ines@example.org", "root@example.org"]
    membership = detail["memberships"][0]["id"]
    assert admin.post(f"/admin/users/{user_id}/memberships/{membership}/delete", headers=JSON).status_code == 200
    with runtime.sessions() as session:
        assert session.execute(select(Membership).where(Membership.id == membership)).first() is None
    # the admin cannot lock themselves out
    me = next(u for u in users if u["email"] == "root@example.org")
    assert admin.post(f"/admin/users/{me['id']}/admin", data={"is_admin": "false"}).status_code == 400


def test_flags_page_toggles_global_and_scoped(runtime, admin):
    assert (
        admin.post(
            "/admin/flags", data={"name": flags.ANALYTICS, "enabled": "true"}, follow_redirects=False
        ).status_code
        == 303
    )
    assert (
        admin.post(
            "/admin/flags",
            data={"name": flags.SECTION_DASHBOARD, "enabled": "true", "scope_type": "section", "scope": "phys-a"},
        ).status_code
        == 200
    )
    bad = admin.post(
        "/admin/flags", data={"name": flags.ANALYTICS, "enabled": "true", "scope_type": "section", "scope": "11"}
    )
    assert bad.status_code == 400 and "cannot be set per section" in bad.text
    listed = admin.get("/admin/flags", headers=JSON).json()["flags"]
    assert {"name": flags.SECTION_DASHBOARD, "scope_type": "section", "scope_id": 11, "enabled": True} in [
        {k: f[k] for k in ("name", "scope_type", "scope_id", "enabled")} for f in listed
    ]
    with runtime.sessions() as session:
        assert flags.is_enabled(session, flags.ANALYTICS)
        assert flags.is_enabled(session, flags.SECTION_DASHBOARD, "section", 11)


def test_scopes_rename_import_and_sync(runtime, admin):
    taken = admin.post("/admin/scopes/section/11", data={"slug": "Bad Slug", "title": "x"})
    assert taken.status_code == 400 and "must be lowercase" in taken.text
    assert admin.post(
        "/admin/scopes/section/11", data={"slug": "physics-a", "title": "Physics A"}, headers=JSON
    ).json()["ok"]
    upload = admin.post(
        "/admin/scopes/import",
        files={
            "file": ("names.csv", b"kind,id,slug,title,project_id\nsection,12,phys-b,Physics B,7\nsection,oops,,,\n")
        },
    )
    assert upload.status_code == 200 and "names.csv:3: id: not an integer" in upload.text
    db = runtime.settings.clickhouse_database
    runtime.clickhouse().command(
        f"INSERT INTO `{db}`.raw_events (section_id, project_id, timestamp, event_type, verb_id, "
        f"event_hash) VALUES (11, 7, now64(3), 'x', 'v', 'a'), (13, 7, now64(3), 'x', 'v', 'b')"
    )
    counts = admin.post("/admin/scopes/sync", headers=JSON).json()
    assert counts["sections_created"] == 1
    sections = {s["id"]: s["slug"] for s in admin.get("/admin/scopes", headers=JSON).json()["sections"]}
    assert sections == {11: "physics-a", 12: "phys-b", 13: "section-13"}


def test_clickhouse_console_needs_flag_and_down_needs_confirmation(runtime, admin):
    assert admin.get("/admin/clickhouse", headers=JSON).status_code == 403
    with runtime.sessions() as session:
        flags.set_flag(session, flags.ANALYTICS, True)
        session.commit()
    page = admin.get("/admin/clickhouse")
    assert page.status_code == 200 and "Migrations" in page.text and "Sample queries" in page.text
    data = admin.get("/admin/clickhouse", headers=JSON).json()
    assert data["ok"] and data["postgres"]["ok"] and data["pending_migrations"] == 0 and data["sample_queries"]
    applied = [m for m in data["migrations"] if m["applied"]]
    confirm = admin.post("/admin/clickhouse/migrations", data={"action": "down"})
    assert confirm.status_code == 409 and "Yes, migrate down" in confirm.text
    assert all(m["applied"] for m in admin.get("/admin/clickhouse", headers=JSON).json()["migrations"])
    down = admin.post("/admin/clickhouse/migrations", data={"action": "down", "confirm": "yes"}, headers=JSON).json()
    assert down["changed"] == [f"{applied[-1]['version']:04d}_{applied[-1]['name']}"]
    up = admin.post("/admin/clickhouse/migrations", data={"action": "up"}, headers=JSON).json()
    assert up["changed"] == down["changed"]


def test_multipart_upload_takes_the_csrf_token_from_the_form(runtime, admin):
    token = admin.headers.pop("X-CSRF-Token")
    files = {"file": ("names.json", b'[{"kind": "project", "id": 7, "title": "Physics 2"}]', "application/json")}
    assert admin.post("/admin/scopes/import", files=files).status_code == 403
    response = admin.post("/admin/scopes/import", files=files, data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    with runtime.sessions() as session:
        assert session.get(Project, 7).title == "Physics 2"


def enable_analytics(runtime) -> None:
    with runtime.sessions() as session:
        flags.set_flag(session, flags.ANALYTICS, True)
        session.commit()


def test_health_page_reads_like_a_person_and_sends_migrate_down_to_maintenance(runtime, admin):
    enable_analytics(runtime)
    html = admin.get("/admin/clickhouse").text
    assert "Migrate down" not in html and 'href="/admin/maintenance"' in html
    assert not re.search(r"\d{4,} B<", html.replace(",", "")), "sizes are shown in KiB/MiB/GiB, not thousands of B"
    assert all(int(seconds) < 60 for seconds in re.findall(r"up (\d+) s\b", html)), "a minute or more reads as min/h/d"
    assert "paste them into a ClickHouse client" not in html.lower()
    samples = admin.get("/admin/console", headers=JSON).json()["samples"]
    assert sum(s["runnable"] for s in samples) >= 5
    for sample in samples:
        assert (f'href="/admin/console?sample={sample["index"]}"' in html) == sample["runnable"]
    maintenance = admin.get("/admin/maintenance")
    assert maintenance.status_code == 200 and "Migrate down" in maintenance.text
    cancel = admin.post("/admin/clickhouse/migrations", data={"action": "down"})
    assert cancel.status_code == 409 and 'href="/admin/maintenance"' in cancel.text


def test_sql_console_runs_the_sample_queries_through_the_admin_query_route(runtime, admin):
    assert admin.get("/admin/console").status_code == 403  # the clickhouse-olap flag, as for the health page
    enable_analytics(runtime)
    page = admin.get("/admin/console?sample=0")
    assert page.status_code == 200 and 'data-query-api="/api/v1/admin/query"' in page.text
    samples = admin.get("/admin/console", headers=JSON).json()["samples"]
    assert samples and all("sql" in s for s in samples)
    for sample in [s for s in samples if s["runnable"]]:
        answer = admin.post("/api/v1/admin/query", json={"sql": sample["sql"], "scope": "admin", "max_rows": 50})
        assert answer.status_code == 200, (sample["title"], answer.text)
    refused = admin.post("/api/v1/admin/query", json={"sql": "INSERT INTO raw_events VALUES (1)", "scope": "admin"})
    assert refused.status_code == 400
    anonymous = TestClient(create_app(runtime))
    assert anonymous.get("/admin/console", follow_redirects=False).status_code == 303


def test_sql_console_queries_are_tagged_followed_and_cancelled_in_the_console_only(runtime, admin):
    enable_analytics(runtime)
    query = "/api/v1/admin/query"
    tag = "q-00000000000000cc"
    # a cancel that arrives before its query starts still cancels it; nothing runs under the tag afterwards
    assert admin.post(f"{query}/{tag}/cancel").json() == {"tag": tag, "cancelled": 0}
    early = admin.post(query, json={"sql": "SELECT 1", "scope": "admin", "tag": tag})
    assert early.status_code == 409 and early.json()["error"]["kind"] == "cancelled"
    assert admin.get(f"{query}/{tag}/progress").json() == {"tag": tag, "running": False}
    ran = admin.post(query, json={"sql": "SELECT 1 AS one", "scope": "admin", "tag": "q-00000000000000cd"})
    assert ran.status_code == 200 and ran.json()["rows"] == [[1]]
    assert admin.get(f"{query}/not-a-tag/progress").status_code == 400
    assert admin.post(query, json={"sql": "SELECT 1", "scope": "admin", "tag": "x"}).status_code == 400
    # a dashboard scope's cancel of the same tag is not the console's: the console's query still runs
    from xolap.web.analytics_scope import AnalyticsScope, running_queries

    registry = running_queries(admin)
    section = AnalyticsScope("section", 1, "s", "S")
    assert registry.cancel_before_start("q-00000000000000ce", section)
    later = admin.post(query, json={"sql": "SELECT 2 AS two", "scope": "admin", "tag": "q-00000000000000ce"})
    assert later.status_code == 200 and later.json()["rows"] == [[2]]


def test_human_sizes_and_durations():
    from xolap.web.formatting import human_bytes, human_duration, human_ms

    assert human_bytes(199_873_490) == "190.6 MiB" and human_bytes(512) == "512 B" and human_bytes(None) == "—"
    assert human_bytes(1536) == "1.5 KiB" and human_bytes(3 * 1024**4) == "3.0 TiB"
    assert (
        human_duration(87) == "1 min 27 s" and human_duration(0.012) == "12 ms" and human_duration(93784) == "1 d 2 h"
    )
    assert human_duration(7200) == "2 h" and human_duration(None) == "—" and human_ms(2500) == "2.5 s"


def test_users_and_scopes_pages_name_sections_and_projects_instead_of_ids(runtime, admin):
    with runtime.sessions() as session:
        teacher = accounts.create_user(session, "t@example.org", password="teacher password")
        accounts.grant(session, teacher, section=session.get(Section, 11))
        accounts.grant(session, teacher, project=session.get(Project, 7))
        session.commit()
    users = admin.get("/admin/users").text
    row = next(line for line in users.split("<tr>") if ">t@example.org<" in line)
    assert "phys-a" in row and "Physics" in row and ">11<" not in row and ">7<" not in row
    scopes = admin.get("/admin/scopes").text
    section_row = next(line for line in scopes.split("<tr>") if 'value="phys-a"' in line)
    assert "Physics" in section_row and "<td>7</td>" not in section_row


def test_a_failed_backfill_reads_as_a_cause_with_the_raw_error_kept():
    from xolap.web.readable_errors import readable_cause

    raw = (
        "Code: 499. DB::Exception: The AWS Access Key Id you provided does not exist in our records. "
        "(InvalidAccessKeyId) (S3_ERROR) (version 26.9.1.1)\nStack trace:\n0. DB::Exception::Exception(...)"
    )
    assert readable_cause(raw) == "S3 refused access: check the credentials and the bucket policy."
    odd = "Code: 1002. DB::Exception: Something new went wrong here (SOME_NEW_ERROR) (version 26.9.1.1)\nStack trace:\n0. x"
    assert readable_cause(odd) == "Something new went wrong here"
    assert readable_cause(None) == "" and readable_cause("x" * 500).endswith("…")


def test_backfill_run_template_hides_unknown_duration_and_shows_cause_then_raw_error():
    from xolap.web.negotiation import templates

    source = templates().env.loader.get_source(templates().env, "admin/backfill_run.html")[0]
    assert "{{ run.error | cause }}" in source and "<summary>Raw error</summary>" in source
    assert "{% if run.duration_ms is none %} hidden{% endif %}" in source
    assert 'id="event-log-card" hidden' in source


@pytest.mark.parametrize(
    "raw",
    [
        # chDB's s3() when the bucket's host name does not resolve (no network, a typo in the endpoint)
        "attempt 2 failed, will retry: DatabaseError: Code: 499. DB::Exception: Could not list objects in bucket "
        "'no-such-bucket' with prefix 'x/', S3 exception: ``, message: 'Code: 198. DB::NetException: Not found "
        "address of host: no-such-bucket.s3.us-east-1.amazonaws.com. (DNS_ERROR), Stack trace:\n0. ? @ 0x1",
        "Code: 198. DB::NetException: Not found address of host: minio.internal. (DNS_ERROR) (version 26.9.2.1)",
        "Code: 1000. DB::Exception: Poco::Exception. Code: 1000, e.code() = 111, Connection refused",
        "botocore.exceptions.EndpointConnectionError: Could not connect to the endpoint URL: "
        '"http://127.0.0.1:9/inventory/manifest.json"',
        'ConnectTimeoutError: Connect timeout on endpoint URL: "https://s3.example.edu/bucket?list-type=2"',
        "[Errno -2] Name or service not known",
        "[Errno -3] Temporary failure in name resolution",
        "[Errno 113] No route to host",
        "[Errno 101] Network is unreachable",
    ],
)
def test_a_storage_that_cannot_be_reached_is_never_read_as_a_missing_file(raw):
    from xolap.web.readable_errors import readable_cause

    assert readable_cause(raw) == "The storage could not be reached (network or endpoint down)."


@pytest.mark.parametrize(
    "raw",
    [
        "Code: 499. DB::Exception: The specified key does not exist. (NoSuchKey) (S3_ERROR)",
        "Code: 499. DB::Exception: HTTP status code: 404 Not Found, body: ... (S3_ERROR)",
        "Code: 107. DB::Exception: File /data/imports/a.jsonl doesn't exist (FILE_DOESNT_EXIST)",
    ],
)
def test_a_missing_file_still_reads_as_a_missing_file(raw):
    from xolap.web.readable_errors import readable_cause

    assert readable_cause(raw) == "A file named by the run is not in S3 (any more)."


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/admin/users/abc", "user_id"),
        ("/admin/clickhouse/backfill/runs/manual/1x", "run_id"),
        ("/admin/clickhouse/backfill/batches/abc/chunks", "batch_id"),
    ],
)
def test_a_page_address_with_a_malformed_part_is_an_html_page_naming_it(runtime, admin, path, field):
    """A browser got FastAPI's raw JSON ({"detail":[{"type":"int_parsing","loc":["path","user_id"],…}]}) for a typo in
    a page's address; a JSON client still gets it."""
    with runtime.sessions() as session:
        flags.set_flag(session, flags.ANALYTICS, True)
        flags.set_flag(session, flags.BULK_INGEST, True)  # the backfill pages
        session.commit()
    page = admin.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html"), page.text[:200]
    assert "<title>Request refused · xolap</title>" in page.text and field in page.text and '"loc"' not in page.text
    assert admin.get(path, headers=JSON).json()["detail"][0]["loc"] == ["path", field]
