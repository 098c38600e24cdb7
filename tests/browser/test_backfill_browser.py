"""In chromium: an admin starts an inventory backfill from S3 (a moto server), watches chunk logs arrive live over SSE,
pauses it, resumes it, and sees it complete."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import boto3

BF_SUPPORT = Path(__file__).resolve().parents[1] / "backfill" / "bf_support.py"


def _bf_support():
    spec = importlib.util.spec_from_file_location("bf_support_for_browser", BF_SUPPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_backfill_streams_chunk_logs_and_pauses_and_resumes(page, log_in, screenshot, xolap_server):
    bf = _bf_support()
    s3 = boto3.client(
        "s3",
        endpoint_url=xolap_server.moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = "browser-backfill"
    s3.create_bucket(Bucket=bucket)
    keys = bf.upload_bundles(s3, bucket, "xapi/", files=12, lines=5, start=500_000, day=3)
    manifest = bf.write_csv_manifest(s3, bucket, [[(bucket, key) for key in keys]])

    log_in(page, "admin")
    page.goto("/admin/clickhouse/backfill?tab=inventory")
    form = page.locator("form:has(input[name=manifest_url])")
    form.locator("input[name=manifest_url]").fill(manifest)
    form.locator("input[name=chunk_size]").fill("1")
    form.locator("[type=submit]").click()
    page.wait_for_url("**/admin/clickhouse/backfill/runs/inventory/*")

    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    rows = page.locator("#chunk-rows tr")
    rows.first.wait_for(timeout=60_000)
    seen = rows.count()
    # more chunk logs arrive on the open page (SSE), with no reload
    page.wait_for_selector(f"#chunk-rows tr:nth-child({seen + 1})", state="attached", timeout=60_000)
    assert navigations == []

    # paused from a second tab: the status, the run's actions and the batch's Retry change on this one live
    other = page.context.new_page()
    other.goto(page.url)
    other.locator("#run-actions [data-action=pause]").click()
    other.wait_for_selector("[data-role=status]:text-is('paused')", timeout=60_000)
    other.close()
    page.wait_for_selector("[data-role=status]:text-is('paused')", timeout=60_000)
    page.wait_for_selector("#batches [data-field=status]:text-is('paused')", timeout=30_000)
    assert navigations == []
    visible = "buttons => buttons.map(b => b.dataset.action)"
    assert page.locator("#run-actions [data-action]:visible").evaluate_all(visible) == ["resume", "cancel"]
    assert page.locator("#batches [data-action=retry-batch]:visible").count() == 1
    rows.first.wait_for(timeout=30_000)
    paused_at = rows.count()
    assert 0 < paused_at < 12
    page.wait_for_timeout(2_000)
    assert page.locator("[data-role=status]").inner_text().strip() == "paused"
    screenshot(page, "backfill-run")

    page.locator("#run-actions [data-action=resume]").click()
    page.wait_for_load_state()
    navigations.clear()
    page.wait_for_selector("[data-role=status]:text-is('completed')", timeout=120_000)
    page.wait_for_selector("#chunk-rows tr:nth-child(12)", state="attached", timeout=30_000)
    assert navigations == []  # the status and the last chunks arrived live
    # the actions follow the status that arrived live: no Pause or Cancel of a completed run, Delete instead
    assert page.locator("#run-actions [data-action]:visible").evaluate_all(visible) == ["delete"]
    assert page.locator("#batches [data-action=retry-batch]:visible").count() == 0
    # on a phone the run's tables scroll sideways instead of breaking their words letter by letter
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    page.wait_for_selector("#chunk-rows tr", timeout=30_000)
    tallest = page.evaluate(
        "() => [...document.querySelectorAll('#batches th, #chunk-log th, #batches td, #chunk-rows td')].map("
        "c => [c.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight), c.textContent.trim()])"
        ".sort((a, b) => b[0] - a[0])[0]"
    )
    assert tallest[0] < 3.5, f"{tallest[1]!r} is {tallest[0]:.1f} lines tall"
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_a_failure_arriving_live_reads_as_the_page_says_it_after_a_reload(page, log_in, xolap_server):
    """The cause of a run's failure in plain words: the same sentence whether it arrived over SSE or with the page."""
    log_in(page, "admin")
    page.goto("/admin/clickhouse/backfill?tab=manual")
    form = page.locator("main form:has(input[name=s3_pattern])")
    form.locator("input[name=s3_pattern]").fill("s3://no-such-bucket-browser/xapi/**/*.jsonl")
    form.locator("[type=submit]").click()
    page.wait_for_url("**/admin/clickhouse/backfill/runs/manual/*")
    first_raw = page.locator("[data-role=raw-error]").inner_text()
    # a later attempt's error arrives on the open page (the runner retries with a backoff of seconds)
    page.wait_for_function(
        "(first) => { const raw = document.querySelector('[data-role=raw-error]').textContent;"
        " return raw && raw !== first; }",
        arg=first_raw,
        timeout=60_000,
    )
    live = page.locator("[data-role=cause]").inner_text().strip()
    page.reload()
    after_reload = page.locator("[data-role=cause]").inner_text().strip()
    assert after_reload and live == after_reload, (live, after_reload)
