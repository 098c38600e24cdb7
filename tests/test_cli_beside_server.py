"""Every CLI command that needs the engine works the same with and without `xolap serve` running (issue 15).

One data dir: each command runs first on its own (the CLI opens the embedded engine itself), then once more while a
single module-scoped `xolap serve` holds that engine (the CLI goes through its API). The exit code and the output
(less timings) must be the same both ways; sections and projects are named by id or slug, an unknown one exits 2.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cli_process import xolap_commands
from serve_process import start_serve
from support import postgres_processes_under, stop_orphan_postgres

FIXTURES = Path(__file__).parent / "fixtures" / "xapi"
# Each command is a fresh process opening the engine and Postgres (several seconds): the module's budget.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

SCOPES_CSV = (
    "kind,id,slug,title,project_id\n"
    "project,5,chem-5,Chemistry,\n"
    "section,12,chem-fall-2024-12,Chemistry Fall,5\n"
    "section,4508,prob-stats-spring-2026-02,Probability and Statistics,\n"
    "project,778,other-778,Other,\n"
    "section,777,other-777,Other section,778\n"
)  # what the `ingest` command adds goes here
TITLES_CSV = "project_id,kind,content_id,title\n5,page,4401,Intro page\n5,page,x,not an id\n"
COUNT_12 = "SELECT count() AS n FROM raw_events"

# name -> (arguments, expected exit code); {mode} is "local" or "server" (for commands that add something).
COMMANDS: dict[str, tuple[list[str], int]] = {
    "query by slug": (["query", "--section", "chem-fall-2024-12", "--format", "csv", COUNT_12], 0),
    "query by id": (["query", "--section", "12", "--format", "csv", COUNT_12], 0),
    "query a known section without events": (["query", "--section", "4508", "--format", "csv", COUNT_12], 0),
    "query a project by slug": (["query", "--project", "chem-5", "--format", "json", COUNT_12], 0),
    "query an unknown section": (["query", "--section", "4509", COUNT_12], 2),
    "query an unknown slug": (["query", "--section", "prob-stats-spring-2026-03", COUNT_12], 2),
    "query refused by the guard": (["query", "--admin", "SELECT * FROM system.one"], 2),
    "query admin": (
        [
            "query",
            "--admin",
            "--format",
            "json",
            "SELECT event_type, count() AS n FROM raw_events WHERE section_id = 12 GROUP BY event_type "
            "ORDER BY event_type",
        ],
        0,
    ),
    "analytics run by slug": (["analytics", "run", "engagement", "--section", "chem-fall-2024-12", "--json"], 0),
    "analytics run by id": (["analytics", "run", "video", "--project", "5", "--json"], 0),
    "analytics run an unknown section": (["analytics", "run", "engagement", "--section", "nope"], 2),
    "analytics run an unknown category": (["analytics", "run", "nope", "--section", "12"], 2),
    "analytics health": (["analytics", "health"], 0),
    "analytics titles-import": (["analytics", "titles-import", "{dir}/titles.csv"], 1),
    "ingest": (["ingest", "--json", "{dir}/var/imports/s777.jsonl"], 3),
    "ch migrate status": (["ch", "migrate", "status"], 0),
    "backfill list": (["backfill", "list", "--json"], 0),
    "backfill show an unknown run": (["backfill", "show", "manual:999"], 1),
    "users add": (["users", "add", "{mode}@example.org", "--password", "long enough"], 0),
    "users grant an unknown section": (["users", "grant", "{mode}@example.org", "--section", "nope"], 2),
    "flags enable by slug": (
        ["flags", "enable", "instructor_dashboard_analytics", "--section", "chem-fall-2024-12"],
        0,
    ),
    "scopes list": (["scopes", "list"], 0),
}
VOLATILE = re.compile(r'"(elapsed_ms|seconds|rows_per_s|tag|elapsed|uptime_s|checked_at|started_at|now)":\s*[^,}\]\n]+')


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    env.update({"XOLAP_DATA_DIR": str(data_dir), "XOLAP_CONFIG_FILE": "/nonexistent.toml", "COLUMNS": "200"})
    return env


def _run(args: list[str], root: Path, mode: str) -> subprocess.CompletedProcess:
    argv = [a.replace("{mode}", mode).replace("{dir}", str(root)) for a in args]
    return subprocess.run(
        [sys.executable, "-m", "xolap.cli", *argv], env=_env(root / "var"), capture_output=True, text=True, timeout=180
    )


def _without_timings(value: object) -> object:
    if isinstance(value, dict):
        # xolap_builds names the rollup builds read: a background merge between the two runs makes new ones
        return {k: _without_timings(v) for k, v in value.items() if k not in ("elapsed_ms", "tag", "xolap_builds")}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _comparable(name: str, result: subprocess.CompletedProcess) -> object:
    """What must be equal both ways: the exit code and the output without timings (health: its keys)."""
    out = result.stdout
    if name == "analytics health":
        return result.returncode, sorted(json.loads(out))
    if name == "ingest":
        body = json.loads(out)
        return result.returncode, {k: body[k] for k in ("files", "rows", "rejected", "warnings", "errors", "exit_code")}
    if name.startswith("analytics run") and result.returncode == 0:
        # the SQL it shows is the one that answered: a server answers a scope its worker has not built yet from the
        # raw events (registry._raw_while_building), the local run builds first; rows, spec and scope must be equal
        return result.returncode, {k: v for k, v in _without_timings(json.loads(out)).items() if k != "sql"}
    if name.startswith("users"):  # the email differs by mode
        out = out.replace("local@", "{mode}@").replace("server@", "{mode}@")
    err = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and "through http://" not in line and " row" not in line
    ]
    err_text = " ".join(" ".join(err).replace("local@", "{mode}@").replace("server@", "{mode}@").split())
    return result.returncode, VOLATILE.sub(r'"\1": _', out), VOLATILE.sub(r'"\1": _', err_text)


@pytest.fixture(scope="module")
def beside_server():
    """(root, local results, server URL): the local runs done, then one `xolap serve` on the same data dir."""
    root = Path(tempfile.mkdtemp(prefix="xolap-test-serve-"))  # outside pytest's tmp root (see pg_template)
    server = None
    try:
        data_dir = root / "var"
        (data_dir / "imports").mkdir(parents=True)
        (root / "scopes.csv").write_text(SCOPES_CSV)
        (root / "titles.csv").write_text(TITLES_CSV)
        line = (FIXTURES / "torus_statements.jsonl").read_text().splitlines()[0]
        other = (
            line.replace('section_id": 12', 'section_id": 777')
            .replace('project_id": 5', 'project_id": 778')
            .replace("-000000000001", "-000000000777")
        )
        (data_dir / "imports" / "s777.jsonl").write_text(other + "\nnot json\n")
        xolap_commands(  # setup, in one process: the commands under test each run in their own below
            _env(data_dir),
            ["db", "migrate"],
            ["ch", "migrate", "up"],
            ["scopes", "import", str(root / "scopes.csv")],
            ["ingest", str(FIXTURES / "torus_statements.jsonl")],
        )
        local = {name: _run(args, root, "local") for name, (args, _code) in COMMANDS.items()}
        server = start_serve(_env(data_dir), log_path=root / "serve.log")
        url = server.url
        yield root, local, url
    finally:
        if server is not None:
            server.stop()
        left = postgres_processes_under([root])
        stop_orphan_postgres(root)
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"Postgres left running: {left}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_same_with_and_without_a_running_server(beside_server, name):
    root, local, _url = beside_server
    args, expected = COMMANDS[name]
    here = local[name]
    assert here.returncode == expected, (here.stdout[-2000:], here.stderr[-2000:])
    assert "Traceback" not in here.stderr
    served = _run(args, root, "server")
    assert served.returncode == expected, (served.stdout[-2000:], served.stderr[-2000:])
    assert "Traceback" not in served.stderr and "Cannot lock" not in served.stderr
    assert _comparable(name, served) == _comparable(name, here)


def test_through_the_server_for_real(beside_server):
    """While the server runs, the CLI cannot have opened the engine itself: the answer came from the server."""
    root, _local, url = beside_server
    ingest = _run(["ingest", str(root / "var" / "imports" / "s777.jsonl")], root, "server")
    assert f"through {url}" in " ".join(ingest.stderr.split())


def test_unknown_scopes_name_the_reference(beside_server):
    _root, local, _url = beside_server
    assert "no section with id or slug '4509'" in local["query an unknown section"].stderr
    assert "no section with id or slug 'prob-stats-spring-2026-03'" in local["query an unknown slug"].stderr
    assert "no section with id or slug 'nope'" in " ".join(local["analytics run an unknown section"].stderr.split())
    counts = {name: local[name].stdout.split() for name in ("query by slug", "query by id")}
    assert counts["query by slug"] == counts["query by id"] == ["n", "11"]
    assert local["query a known section without events"].stdout.split() == ["n", "0"]
