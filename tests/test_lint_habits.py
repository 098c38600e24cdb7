"""Lint habits that stay cheap to check: CI lints before testing, the lint tools are pinned, type ignores explain.

`make lint` itself (ruff + mypy, ~30 s) runs in CI, not here.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import xolap

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(xolap.__file__).resolve().parent
# `# type: ignore[code, code]` followed on the same line by `# why`, or preceded by a comment line saying why.
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<codes>\[[a-z0-9-]+(?:,\s*[a-z0-9-]+)*\])?(?P<rest>.*)$")


def test_every_type_ignore_names_its_error_code_and_says_why():
    bad: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines, start=1):
            found = IGNORE.search(line)
            if found is None:
                continue
            where = f"{path.relative_to(SRC.parent)}:{number}"
            if not found["codes"]:
                bad.append(f"{where}: a bare `type: ignore` (name the error code)")
                continue
            reason_after = re.match(r"\s*#\s*\S", found["rest"])
            reason_above = number > 1 and lines[number - 2].strip().startswith("#")
            if not (reason_after or reason_above):
                bad.append(f"{where}: `type: ignore{found['codes']}` without a comment saying why")
    assert not bad, "\n".join(bad)


def test_lint_tools_pinned_in_the_dev_extras_are_the_installed_ones():
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    pins = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", spec).groups() for spec in dev if "==" in spec)
    assert {"ruff", "mypy"} <= set(pins), f"ruff and mypy are pinned in the dev extras: {sorted(pins)}"
    for name, version in pins.items():
        assert metadata.version(name) == version, f"{name}: pinned {version}, installed {metadata.version(name)}"


def test_ci_runs_make_lint_before_the_tests_and_lint_covers_ruff_and_mypy():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make lint" in ci and ci.index("make lint") < ci.index("make test")
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert target is not None, "Makefile has a lint target"
    recipe = target.group(1)
    for command in ("ruff check src tests bench", "ruff format --check src tests bench", "mypy src"):
        assert command in recipe, f"make lint runs `{command}`"
    assert re.search(r"^\.PHONY:.*\blint\b", makefile, re.M)
