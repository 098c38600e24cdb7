"""`xolap etl package`: zip contents (handler + the modules the handler imports, nothing else), reproducibility,
and the unzipped artifact importing and answering a diagnostics invocation on its own (offline, without deps)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from xolap.ingest.etl.cli import etl_app
from xolap.ingest.etl.package import HANDLER_FILE, build_package, module_closure


def test_closure_follows_imports_including_lazy_and_relative(tmp_path):
    root = tmp_path / "xolap"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "entry.py").write_text(
        "from . import sibling\nimport json\n\ndef f():\n    from xolap.lazy import thing\n"
    )
    (root / "sub" / "sibling.py").write_text("from ..helpers import tool\n")
    (root / "helpers.py").write_text("")
    (root / "lazy.py").write_text("thing = 1\n")
    (root / "unused.py").write_text("")
    found = module_closure(["xolap.sub.entry"], root)
    assert set(found) == {"xolap", "xolap.sub", "xolap.sub.entry", "xolap.sub.sibling", "xolap.helpers", "xolap.lazy"}


def test_zip_holds_handler_and_needed_modules_only(tmp_path):
    result = build_package(tmp_path / "dist" / "xolap-etl.zip")
    names = set(zipfile.ZipFile(result.path).namelist())
    assert names == set(result.files)
    for needed in (
        HANDLER_FILE,
        "xolap/__init__.py",
        "xolap/config.py",
        "xolap/clickhouse/client.py",
        "xolap/clickhouse/columns.py",
        "xolap/ingest/etl/handler.py",
        "xolap/ingest/pipeline.py",
        "xolap/ingest/etl/notifications.py",
        "xolap/ingest/aws_clients.py",
        "xolap/xapi/rows.py",
    ):
        assert needed in names, needed
    assert not any(
        n.startswith(("xolap/web/", "xolap/store/", "xolap/analytics/")) or n == "xolap/cli.py" for n in names
    )
    assert not any("__pycache__" in n or n.startswith(("pyarrow/", "clickhouse_connect/")) for n in names)
    assert any(n.endswith(".dist-info/METADATA") for n in names)
    handler = zipfile.ZipFile(result.path).read(HANDLER_FILE).decode()
    assert "from xolap.ingest.etl.handler import lambda_handler" in handler
    # Reproducible: the same sources give the same bytes.
    again = build_package(tmp_path / "again.zip")
    assert again.path.read_bytes() == result.path.read_bytes()


def test_unzipped_artifact_imports_from_itself_and_answers_diagnostics(tmp_path):
    result = build_package(tmp_path / "xolap-etl.zip")
    target = tmp_path / "task"  # like /var/task in Lambda
    zipfile.ZipFile(result.path).extractall(target)
    script = (
        "import json, lambda_function, xolap; "
        "out = lambda_function.lambda_handler({'diagnostics': True}, None); "
        "print(json.dumps({'xolap_file': xolap.__file__, 'out': out}, default=str))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("XOLAP_")}
    env.update(
        PYTHONPATH=str(target), XOLAP_CONFIG_FILE="/nonexistent", XOLAP_CLICKHOUSE_URL="http://etl:secret@127.0.0.1:9"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=target, env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert Path(report["xolap_file"]).is_relative_to(target)
    out = report["out"]
    assert out["clickhouse"]["reachable"] is False  # nothing listens on port 9
    assert out["config"]["clickhouse_url"] == "http://etl:****@127.0.0.1:9"  # the password never leaves
    assert "secret" not in completed.stdout


def test_cli_package_command(tmp_path):
    out = tmp_path / "cli.zip"
    result = CliRunner().invoke(etl_app, ["package", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and "dependencies not included" in result.output
    bad = CliRunner().invoke(etl_app, ["package", "--out", str(tmp_path / "x.zip"), "--with-deps", "--arch", "sparc"])
    assert bad.exit_code == 1 and "unknown arch 'sparc'" in bad.output


def test_registered_in_main_cli(tmp_path):
    from xolap.cli import app

    out = tmp_path / "main.zip"
    result = CliRunner().invoke(app, ["etl", "package", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert zipfile.ZipFile(out).read(HANDLER_FILE)
