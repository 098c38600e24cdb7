"""Redraw the README's demo screenshots (docs/screenshots/demo-section-*.png): `xolap serve --demo` with 100k
generated events in a scratch data dir on a free 127.0.0.1 port, the demo instructor's dashboard in headless chromium
at 1280 px (video, page engagement and activity-over-time tabs, whole page), then the server is stopped and the
scratch dir removed. Run: .venv/bin/python tests/browser/demo_screenshots.py [--events N]."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from serve_process import ServeDidNotStart, running_serve  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
TABS = {"video": "demo-section-video", "engagement": "demo-section-engagement", "cross_event": "demo-section-activity"}


def shoot(url: str) -> None:
    from playwright.sync_api import sync_playwright

    from xolap.demo import INSTRUCTOR

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=url).new_page()
        page.goto("/login")
        page.fill("input[name=email]", INSTRUCTOR.email)
        page.fill("input[name=password]", INSTRUCTOR.password)
        page.click("main form [type=submit]")
        page.wait_for_url(lambda address: "/analytics" in address, timeout=60_000)  # the one dashboard they have
        dashboard = page.url.split("#")[0]
        for key, name in TABS.items():
            page.goto(f"{dashboard}#{key}")
            page.wait_for_selector("#summary .summary-card", timeout=60_000)
            page.wait_for_selector(f"#panel-{key} .chart[data-drawn=true] svg", timeout=60_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            print(f"wrote docs/screenshots/{name}.png")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    events = parser.parse_args().events
    data_dir = Path(tempfile.mkdtemp(prefix="xolap-demo-shots-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    env.update({"XOLAP_DATA_DIR": str(data_dir), "XOLAP_CONFIG_FILE": "/nonexistent/xolap.toml"})
    try:
        with running_serve(
            env, log_path=data_dir / "serve.log", args=["--demo", "--demo-events", str(events)], timeout=900
        ) as server:
            shoot(server.url)
    except ServeDidNotStart as exc:
        sys.exit(str(exc))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
