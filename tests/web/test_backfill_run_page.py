"""A manual backfill's run page tells what the run found: the files a dry run matched, and a pattern that matched no
file is said in words instead of a green 'completed' with 0 rows (a mistyped prefix looked like a success)."""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
from fastapi.testclient import TestClient

from xolap.backfill import runner, service
from xolap.store import flags
from xolap.web.app import create_app


@pytest.fixture()
def s3_runtime(runtime, moto_server):
    from xolap.runtime import Runtime

    settings = runtime.settings.model_copy(
        update={"s3_endpoint_url": moto_server, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    )
    with runtime.sessions() as session:
        flags.set_flag(session, flags.ANALYTICS, True)
        flags.set_flag(session, flags.BULK_INGEST, True)
        session.commit()
    return Runtime(settings)


@pytest.fixture()
def bucket(s3_runtime) -> str:
    from xolap.ingest.aws_clients import aws_client

    name = f"runpage-{uuid.uuid4().hex[:8]}"
    s3 = aws_client(s3_runtime.settings, "s3")
    s3.create_bucket(Bucket=name)
    for n in range(3):
        s3.put_object(Bucket=name, Key=f"xapi/part-{n}.jsonl", Body=b'{"id": "x"}\n')
    return name


def run_page(s3_runtime, pattern: str) -> tuple[str, dict]:
    run = service.create_manual_run(s3_runtime, s3_pattern=pattern, dry_run=True, initiated_by="test")
    assert runner.execute_manual_run(s3_runtime, run["id"]) == "completed"
    client = TestClient(create_app(s3_runtime))
    admin = {"Authorization": f"Bearer {s3_runtime.admin_token}"}
    url = f"/admin/clickhouse/backfill/runs/manual/{run['id']}"
    html = client.get(url, headers=admin).text
    return html, client.get(url, headers=admin | {"Accept": "application/json"}).json()


def shown(html: str, row: str) -> str | None:
    """The visible text of the run table's row data-row=`row` (None when it is absent or hidden)."""
    match = re.search(rf'<tr data-row="{row}"([^>]*)>(.*?)</tr>', html, re.S)
    if match is None or "hidden" in match.group(1):
        return None
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", match.group(2)))).strip()


def test_a_pattern_matching_no_file_is_said_in_words_naming_the_pattern(s3_runtime, bucket):
    pattern = f"s3://{bucket}/xpai/**/*.jsonl"  # a mistyped prefix
    html, run = run_page(s3_runtime, pattern)
    assert run["status"] == "completed" and run["objects"] == 0
    notice = shown(html, "nothing-read")
    assert notice is not None and "no file matched" in notice.lower() and pattern in notice, notice
    assert shown(html, "files") == "Files matched 0"


def test_a_dry_run_shows_the_files_it_matched_and_no_notice(s3_runtime, bucket):
    html, run = run_page(s3_runtime, f"s3://{bucket}/xapi/*.jsonl")
    assert run["objects"] == 3
    assert shown(html, "files") == "Files matched 3"
    assert shown(html, "nothing-read") is None


def test_the_manual_and_inventory_links_are_links_not_tabs_without_panels(s3_runtime):
    """They open another page: announced as ARIA tabs, a screen reader promised arrow keys and a tab panel that the
    page does not have. The open one is the current page."""
    client = TestClient(create_app(s3_runtime))
    admin = {"Authorization": f"Bearer {s3_runtime.admin_token}"}
    for tab in ("manual", "inventory"):
        html = client.get(f"/admin/clickhouse/backfill?tab={tab}", headers=admin).text
        assert 'role="tab' not in html or 'role="tabpanel"' in html
        links = re.findall(r'<a href="\?tab=(\w+)"([^>]*)>', html)
        assert [name for name, attrs in links if 'aria-current="page"' in attrs] == [tab], links
