"""Counts read as English everywhere a person reads them: "1 row", "2 rows", "1 row/s". One helper per language
(xolap.counted, static/js/counted.js) with the same answers, and no message writes a plural noun after a bare count."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import xolap
from xolap.counted import counted

SRC = Path(xolap.__file__).resolve().parent
JS_HELPER = SRC / "web" / "static" / "js" / "counted.js"
CASES = [(0, "row", None), (1, "row", None), (2, "row", None), (1234, "row", None), (1, "batch", "batches"),
         (3, "batch", "batches"), (1, "new section", None), (1_000_000, "learner", None)]  # fmt: skip
EXPECTED = ["0 rows", "1 row", "2 rows", "1,234 rows", "1 batch", "3 batches", "1 new section", "1,000,000 learners"]

# A count placeholder (JS ${…}, Jinja }}, a Python f-string field, JS `) + "`) followed by a plural noun or "noun(s)".
_PLACEHOLDER = r"(?:\$\{[^}]*\}|\}\}|\{(?![A-Z_][A-Z0-9_]*[:}])(?:[^{}\"',]|,(?! ))*\}|\)\s*\+\s*[\"'])"
_NOUN = (
    r"(?:rows|files|lines|batches|sessions|learners|migrations|objects|warnings|events|statements|chunks|sections|"
    r"projects|users|errors|queries|days|minutes|keys|titles|scopes|modules|tokens|credentials|[a-z]+\(s\))"
)
# (a noun(s) before a list of names, "column(s) {names}", names things rather than counting them)
BARE_PLURAL = re.compile(_PLACEHOLDER + r"\s+(?:new |other )?" + _NOUN + r"(?![\w(])(?!\s*\{)")


def test_the_python_helper_pluralises_by_the_count():
    assert [counted(n, noun, plural) for n, noun, plural in CASES] == EXPECTED


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the browser helper")
def test_the_browser_helper_answers_as_the_python_one():
    script = (
        "globalThis.window = globalThis;\n"
        + JS_HELPER.read_text()
        + f"\nconsole.log(JSON.stringify({json.dumps(CASES)}.map(([n, noun, plural]) =>"
        " window.xolapCounted(n, noun, plural || undefined))));"
    )
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(done.stdout) == EXPECTED


def _user_facing_sources() -> list[Path]:
    """Templates, our own scripts and the Python that writes messages (log lines, %d-style, are not covered)."""
    scripts = [p for p in (SRC / "web" / "static" / "js").glob("*.js") if not p.name.endswith(".src.js")]
    return sorted([*SRC.rglob("*.html"), *scripts, *SRC.rglob("*.py")])


def test_no_message_puts_a_plural_noun_after_a_bare_count():
    found = []
    for path in _user_facing_sources():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if BARE_PLURAL.search(line) and "limit" not in line:  # "over the limit of {N} rows": a limit is never 1
                found.append(f"{path.relative_to(SRC.parent)}:{number}: {line.strip()}")
    assert not found, "write the count with counted() / xolapCounted():\n" + "\n".join(found)


def test_the_check_sees_each_way_of_writing_a_bare_count():
    for line in ['`${data.row_count} rows in ${ms} ms`', "{{ run.rows }} rows ·", 'f"{summary.rows:,} rows ingested"',
                 'fmt(run.rows) + " rows · "', 'f"{ended} session(s) signed out."', "{{ n }} new section(s)"]:  # fmt: skip
        assert BARE_PLURAL.search(line), line
    for line in [
        'f"up to {MAX_LEARNERS} learners"',
        "f\"{counted(rows, 'row')} in\"",
        "{{ n }} pending",
        'f"the {table} column(s) {names}"',
    ]:
        assert not BARE_PLURAL.search(line), line
