"""Several `xolap` CLI commands run in one subprocess (the same Typer app as the `xolap` script, Python's start-up and
the embedded engines' paid once): for test setup, where no command itself is under test."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A command fails the step whether it exits non-zero (SystemExit) or returns its exit code (standalone_mode=False
# hands back the code of a typer.Exit instead of exiting).
_RUN_COMMANDS = """
import json, sys
from xolap.cli import app
for args in json.loads(sys.argv[1]):
    print("$ xolap " + " ".join(args), flush=True)
    try:
        code = app(args, standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    if code not in (0, None):
        sys.exit(f"xolap {' '.join(args)} exited with {code}")
"""


class CommandsFailed(RuntimeError):
    """One of the commands exited non-zero; the message has the output of the whole step."""


def xolap_commands(env: Mapping[str, str], *commands: list[str], timeout: float = 180) -> str:
    """Run the `xolap` commands in order in one subprocess with `env`; their output, or CommandsFailed with it when
    one fails (the later ones do not run)."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN_COMMANDS, json.dumps(commands)],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise CommandsFailed(f"xolap commands failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout
