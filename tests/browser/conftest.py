"""Browser-test fixtures: a real `xolap serve` on a free port with its own data dir (seeded with events, accounts
created with the `xolap` CLI), and headless Debian chromium driven by Playwright. Local assets only, no network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_process import CommandsFailed, xolap_commands
from serve_process import ServeDidNotStart, start_serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "src" / "xolap" / "web" / "static" / "vendor"
# Screenshots go to a temp dir, so a test run leaves the work tree clean; XOLAP_UPDATE_SCREENSHOTS=1 refreshes
# the README's copies in docs/screenshots.
SCREENSHOTS = (
    (ROOT / "docs" / "screenshots")
    if os.environ.get("XOLAP_UPDATE_SCREENSHOTS") == "1"
    else (Path(tempfile.gettempdir()) / "xolap-screenshots")
)

ADMIN = ("admin@example.edu", "admin-pass-1")
TEACHER = ("teacher@example.edu", "teacher-pass-1")
AUTHOR = ("author@example.edu", "author-pass-1")


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


@dataclass
class Server:
    url: str
    env: dict[str, str]
    data_dir: Path
    moto_url: str


def _env(data_dir: Path, moto_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    env.update(
        {
            "XOLAP_DATA_DIR": str(data_dir),
            "XOLAP_CONFIG_FILE": "/nonexistent/xolap.toml",
            "XOLAP_SECRET_KEY": "browser-tests-secret-key",
            "XOLAP_S3_ENDPOINT_URL": moto_url,
            "XOLAP_SQS_ENDPOINT_URL": moto_url,
            "XOLAP_AWS_ACCESS_KEY_ID": "testing",
            "XOLAP_AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture(scope="session")
def xolap_server(tmp_path_factory: pytest.TempPathFactory, moto_server: str) -> Iterator[Server]:
    missing = [
        name
        for name in (
            "vega.min.js",
            "vega-lite.min.js",
            "vega-embed.min.js",
            "vega-interpreter.js",
            "editor.js",
            "htmx.min.js",
        )
        if not (VENDOR / name).is_file()
    ]
    if missing:
        pytest.fail(
            f"front-end assets missing from {VENDOR}: {', '.join(missing)}; run `make assets` (npm ci && npm run build)"
        )
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install -y chromium)")
    # Not under pytest's tmp dir: pgserver's system user must traverse the path, and every pytest start elsewhere
    # resets /tmp/pytest-of-<user> to mode 0700 (initdb then fails with "Permission denied").
    data_dir = Path(tempfile.mkdtemp(prefix="xolap-browser-"))
    env = _env(data_dir, moto_server)
    seeded = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("seed_warehouse.py"))],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if seeded.returncode != 0:
        pytest.fail(f"seeding failed:\n{seeded.stdout}\n{seeded.stderr}")
    try:
        xolap_commands(
            env,
            ["users", "add", ADMIN[0], "--password", ADMIN[1], "--admin", "--name", "Ada Admin"],
            ["users", "add", TEACHER[0], "--password", TEACHER[1], "--name", "Terry Teacher"],
            ["users", "grant", TEACHER[0], "--section", "physics-fall"],
            ["users", "add", AUTHOR[0], "--password", AUTHOR[1], "--name", "Avery Author"],
            ["users", "grant", AUTHOR[0], "--project", "intro-physics"],
            *(
                ["flags", "enable", flag]
                for flag in (
                    "clickhouse-olap",
                    "clickhouse-olap-bulk-ingest",
                    "instructor_dashboard_analytics",
                    "project_dashboard_analytics",
                )
            ),
        )
    except CommandsFailed as exc:
        pytest.fail(str(exc))
    try:
        server = start_serve(env, log_path=data_dir / "serve.log")
    except ServeDidNotStart as exc:
        shutil.rmtree(data_dir, ignore_errors=True)
        pytest.fail(str(exc))
    try:
        yield Server(server.url, env, data_dir, moto_server)
    finally:
        server.stop(timeout=40)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium for one test module. Playwright's sync API keeps an asyncio loop running in the main thread while it
    is started, so it stops after each module: a later test's asyncio.run() (procrastinate's run_worker, for one)
    would fail on that loop otherwise."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, xolap_server: Server):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=xolap_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Any Content-Security-Policy violation fails the test (the policy must not break a page, nor be needed to).
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => console.error("
        "'CSP violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI));"
    )
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error"
            and ("Content Security Policy" in message.text or "CSP violation" in message.text)
            else None
        ),
    )
    page.on(
        "request",
        lambda request: (
            errors.append(f"off-host request {request.url}")
            if not request.url.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))
            else None
        ),
    )
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def _log_in(page, role: str) -> None:
    email, password = {"admin": ADMIN, "teacher": TEACHER, "author": AUTHOR}[role]
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("main form [type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture()
def log_in():
    """log_in(page, "admin" | "teacher" | "author") through the login form."""
    return _log_in


@pytest.fixture()
def screenshot():
    """screenshot(page, name) saves <SCREENSHOTS>/<name>.png (full page)."""
    return _screenshot
