"""The README and docs/*.md say only what the code does: every `xolap …` command and option they show exists, every
setting they name exists with the default they give (and every setting is named), every make target, file path,
module attribute and route they cite is there. Read from the text itself, so a renamed option or a changed default
fails here instead of misleading a reader."""

from __future__ import annotations

import functools
import importlib
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main

from xolap.cli import app as cli_app
from xolap.config import ENV_PREFIX, Settings
from xolap.ingest.etl.batching import ENV_PREFIX as ETL_ENV_PREFIX
from xolap.ingest.etl.batching import EtlLimits

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GLOBAL_OPTIONS = {"--help", "--debug"}
UNITS = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "M": 1_000_000, "s": 1}


def doc_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def code_snippets(text: str) -> list[str]:
    """Fenced blocks (line by line), indented blocks and inline code spans (which may wrap a line)."""
    fenced = re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
    rest = re.sub(r"```.*?```", "", text, flags=re.S)
    indented = re.findall(r"(?m)^(?: {4}|\t)(\S.*)$", rest)
    return [line for block in fenced for line in block.splitlines()] + indented + inline_code(text)


def inline_code(text: str) -> list[str]:
    """`code spans` outside fenced blocks, a span that wraps a line joined with one space."""
    rest = re.sub(r"```.*?```", "", text, flags=re.S)
    return [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", rest)]


def all_snippets() -> list[tuple[str, str]]:
    return [(path.name, snippet) for path in DOC_FILES for snippet in code_snippets(doc_text(path))]


# --- commands and options -------------------------------------------------------------------------------------------


def command_words(snippet: str) -> list[list[str]]:
    """The words of each `xolap …` invocation in a snippet, quoted arguments and shell redirections left out."""
    invocations = []
    snippet = re.sub(r"(?:^|\s)#.*$", "", snippet)
    for match in re.finditer(r"(?:^|(?<=[\s(|$]))xolap (?=[a-z-])", snippet):
        tail = snippet[match.end() :]
        tail = re.split(r"\s(?:#|>|<|&&|\|\s)|\s{2,}#", tail)[0]
        tail = re.sub(r"\"[^\"]*\"|'[^']*'", " ", tail)
        tail = re.sub(r"[\[\]()]", " ", tail)
        try:
            words = shlex.split(tail)
        except ValueError:
            words = tail.split()
        invocations.append(words)
    return invocations


@functools.cache
def cli_root() -> Any:
    return typer.main.get_command(cli_app)


def option_names(command: Any) -> set[str]:
    return {
        name
        for param in command.params
        for name in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]
        if name.startswith("-")
    }


def check_invocation(words: list[str]) -> list[str]:
    """Problems with one invocation: an unknown sub-command, or an option the command it reaches does not take."""
    problems: list[str] = []
    commands = [cli_root()]
    path = ["xolap"]
    for word in words:
        pieces = [piece for piece in word.split("|") if piece]
        options = [piece.split("=")[0] for piece in pieces if piece.startswith("-") and piece != "-"]
        groups = [command for command in commands if hasattr(command, "commands")]
        if options:
            for option in options:
                if option not in GLOBAL_OPTIONS and not any(option in option_names(c) for c in commands):
                    problems.append(f"{' '.join(path)}: no option {option}")
            continue
        if not groups or any(mark in word for mark in ("…", "...")):
            continue  # an argument or a placeholder
        if groups and not re.fullmatch(r"[a-z][a-z-]*(\|[a-z][a-z-]*)*", word):
            continue  # a placeholder such as ID or FILE
        missing = [piece for piece in pieces if not any(piece in group.commands for group in groups)]
        if missing:
            problems.append(f"{' '.join(path)}: no command {' / '.join(missing)}")
            return problems
        commands = [group.commands[piece] for group in groups for piece in pieces if piece in group.commands]
        path.append(word)
    return problems


def test_command_parser_sees_bad_commands_and_options() -> None:
    """The check itself can fail: a made-up sub-command and a made-up option are both reported."""
    assert command_words("xolap users add a@b.c --admin  # comment") == [["users", "add", "a@b.c", "--admin"]]
    assert check_invocation(["users", "add", "a@b.c", "--admin"]) == []
    assert check_invocation(["backfill", "run|inventory|list"]) == []
    assert check_invocation(["users", "adds"]) != []
    assert check_invocation(["query", "--sections", "42"]) != []
    assert check_invocation(["backfill", "run|bogus"]) != []


def test_every_documented_command_and_option_exists() -> None:
    seen = 0
    problems = []
    for name, snippet in all_snippets():
        for words in command_words(snippet):
            seen += 1
            problems += [f"{name}: `{snippet}`: {problem}" for problem in check_invocation(words)]
    assert seen > 40, "the docs show fewer commands than expected: is the snippet reader broken?"
    assert not problems, "\n".join(problems)


def test_every_command_of_the_cli_is_documented() -> None:
    """Each leaf command (`xolap users token`) appears in the README or docs, alone or in an a|b|c list."""
    text = "\n".join(doc_text(path) for path in DOC_FILES)
    documented: set[tuple[str, ...]] = set()
    for _, snippet in all_snippets():
        for words in command_words(snippet):
            prefix: list[list[str]] = [[]]
            for word in words:
                if not re.fullmatch(r"[a-z][a-z-]*(\|[a-z][a-z-]*)*", word):
                    break
                prefix = [p + [piece] for p in prefix for piece in word.split("|")]
                documented.update(tuple(p) for p in prefix)
    # "`analytics run|health|titles-import`" in a list of commands that need the engine
    for listed in [span for span in inline_code(text) if re.fullmatch(r"(?:[a-z-]+ )*[a-z-]+(?:\|[a-z-]+)+", span)]:
        head, _, tail = listed.rpartition(" ")
        documented.update(tuple([*head.split(), piece]) for piece in tail.split("|"))

    missing = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands") and command.commands:
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        elif path not in documented:
            missing.append("xolap " + " ".join(path))

    walk(cli_root(), ())
    assert not missing, "\n".join(missing)


# --- settings and their defaults ------------------------------------------------------------------------------------


def parse_default(cell: str, default: Any) -> tuple[bool, Any]:
    """(is a value, value) of one default in a docs table: `4 MiB`, `10,000`, `200M`, `30 s`, `./var`; free text
    such as "generated into `<data_dir>/admin-token`" is not a value (the field's own default must then be None)."""
    cell = cell.strip()
    if cell in ("–", "-", ""):
        return True, "" if default == "" else None  # nothing: None, or an empty prefix
    quoted = re.fullmatch(r"`([^`<]*)`", cell)
    if quoted:
        if isinstance(default, bool) or default is None or isinstance(default, str):
            return True, quoted.group(1)
        if isinstance(default, Path):
            return True, Path(quoted.group(1))
        cell = quoted.group(1)
    number = re.fullmatch(r"([\d,]+(?:\.\d+)?)\s*(KiB|MiB|GiB|M|s)?", cell)
    if not number:
        return False, None
    value = float(number.group(1).replace(",", "")) * UNITS.get(number.group(2) or "", 1)
    return True, value


def expand_names(cell: str, known: set[str]) -> list[str]:
    """`XOLAP_A_B`, `…_C` -> [XOLAP_A_B, XOLAP_A_C]: an elided name takes the longest prefix of the first that makes a
    known name (or the first's prefix before its last underscore part when none does)."""
    names = re.findall(r"`([^`]+)`", cell)
    if not names:
        return []
    out = [names[0]]
    for name in names[1:]:
        if not name.startswith(("…", "...")):
            out.append(name)
            continue
        suffix = name.lstrip("….")
        first = names[0]
        candidates = [first[:i] + suffix for i in range(len(first), 0, -1) if first[i - 1] != "_" or True]
        match = next((c for c in candidates if c in known), None)
        out.append(match or first.rsplit("_", 1)[0] + suffix)
    return out


def table_rows(text: str, heading: str) -> list[list[str]]:
    """Cells of the first markdown table after a heading line that contains `heading`."""
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                rows.append(cells)
        elif rows:
            break
    return rows


def settings_defaults() -> dict[str, Any]:
    return {ENV_PREFIX + name.upper(): field.default for name, field in Settings.model_fields.items()}


def etl_defaults() -> dict[str, Any]:
    return {ETL_ENV_PREFIX + name.upper(): value for name, value in EtlLimits().__dict__.items()}


def same_value(documented: Any, default: Any) -> bool:
    if isinstance(documented, float) and isinstance(default, int | float) and not isinstance(default, bool):
        return documented == default
    if isinstance(default, Path) or isinstance(documented, Path):
        return Path(str(documented)) == Path(str(default))
    if isinstance(default, int) and isinstance(documented, str) and documented.isdigit():
        return int(documented) == default
    return bool(documented == default)


def readme_settings_table() -> list[tuple[list[str], str]]:
    known = set(settings_defaults())
    rows = table_rows(doc_text(ROOT / "README.md"), "| variable | default | meaning |")
    return [(expand_names(row[0], known), row[1]) for row in rows]


def default_problems(names: list[str], cell: str, defaults: dict[str, Any]) -> list[str]:
    problems = []
    unknown = [name for name in names if name not in defaults]
    if unknown:
        return [f"{unknown}: not a setting"]
    items = re.split(r",\s+(?=[`\d–-]|[^,]*$)", cell) if len(names) > 1 else [cell]
    if len(items) != len(names):
        items = [cell] * len(names)
    for name, item in zip(names, items, strict=True):
        is_value, value = parse_default(item, defaults[name])
        if is_value and not same_value(value, defaults[name]):
            problems.append(f"{name}: documented default {item!r}, the code's is {defaults[name]!r}")
        if not is_value and defaults[name] is not None:
            problems.append(f"{name}: documented default {item!r} is not a value, the code's is {defaults[name]!r}")
    return problems


def test_default_reader_sees_a_wrong_default() -> None:
    defaults = settings_defaults()
    assert default_problems(["XOLAP_PORT"], "`8000`", defaults) == []
    assert default_problems(["XOLAP_PORT"], "`8080`", defaults) != []
    assert default_problems(["XOLAP_QUERY_MAX_MEMORY_USAGE"], "2 GiB", defaults) == []
    assert default_problems(["XOLAP_QUERY_MAX_MEMORY_USAGE"], "3 GiB", defaults) != []
    assert default_problems(["XOLAP_ADMIN_TOKEN"], "generated into `<data_dir>/admin-token`", defaults) == []
    assert default_problems(["XOLAP_HOST"], "the local host", defaults) != []
    assert default_problems(["XOLAP_NO_SUCH_THING"], "–", defaults) != []


def test_readme_settings_table_gives_every_setting_with_its_default() -> None:
    defaults = settings_defaults()
    table = readme_settings_table()
    problems = [problem for names, cell in table for problem in default_problems(names, cell, defaults)]
    documented = {name for names, _ in table for name in names}
    assert not sorted(set(defaults) - documented), (
        str(sorted(set(defaults) - documented)) + "settings missing from the README's configuration table"
    )
    assert not problems, "\n".join(problems)


def test_custom_sql_limits_table_matches_the_settings() -> None:
    defaults = settings_defaults()
    rows = table_rows(doc_text(ROOT / "docs" / "custom-sql.md"), "| Setting | Default | Env variable |")
    problems = []
    for setting, default, variable, _ in rows:
        names = re.findall(r"`(XOLAP_[A-Z_]+)`", variable)
        if names:
            assert setting.strip("`") in names[0].lower(), f"{setting} documented under {names[0]}"
            problems += default_problems(names, default, defaults)
    assert len(rows) >= 5
    assert not problems, "\n".join(problems)


def test_etl_environment_table_matches_the_limits() -> None:
    defaults = etl_defaults()
    rows = table_rows(doc_text(ROOT / "docs" / "etl-deploy.md"), "| variable | meaning |")
    documented = set()
    problems = []
    for variable, meaning in rows:
        for name in re.findall(r"`(XOLAP_ETL_[A-Z_]+)`", variable):
            if name in ("XOLAP_ETL_DLQ_URL", "XOLAP_ETL_QUEUE_URL"):
                continue  # Settings fields, checked with the README's table
            documented.add(name)
            found = re.search(r"default ([\d,]+(?: ?(?:KiB|MiB|GiB))?)", meaning)
            assert found, f"{name}: no default given"
            problems += default_problems([name], found.group(1), defaults)
    assert not sorted(set(defaults) - documented), (
        str(sorted(set(defaults) - documented)) + "ETL limits missing from docs/etl-deploy.md"
    )
    assert not problems, "\n".join(problems)


def test_every_environment_variable_named_in_the_docs_is_read() -> None:
    """Each XOLAP_* named is a setting, an ETL limit, or a name the code or tests read (XOLAP_CONFIG_FILE, ...);
    XOLAP_QUERY_* stands for the settings it starts."""
    known = set(settings_defaults()) | set(etl_defaults())
    code = "\n".join(
        path.read_text(encoding="utf-8") for folder in ("src", "tests") for path in (ROOT / folder).rglob("*.py")
    )
    unknown = set()
    for path in DOC_FILES:
        for name in re.findall(r"XOLAP_[A-Z0-9_]*[A-Z0-9*]", doc_text(path)):
            if name.endswith("*") or name.endswith("_"):
                if not any(k.startswith(name.rstrip("*")) for k in known):
                    unknown.add(f"{path.name}: {name}")
            elif name not in known and f'"{name}"' not in code and f"'{name}'" not in code:
                unknown.add(f"{path.name}: {name}")
    assert not sorted(unknown), str(sorted(unknown))


# --- make targets, files, modules, routes ---------------------------------------------------------------------------


def test_every_make_target_and_variable_named_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"(?m)^([a-z][\w-]*):", makefile))
    variables = set(re.findall(r"(?m)^([A-Z_]+) \?=", makefile))
    problems = []
    for path in DOC_FILES:
        text = doc_text(path)
        for _, snippet in [(path.name, s) for s in code_snippets(text)]:
            for words in re.findall(r"(?:^|(?<=[\s(`]))make((?: [A-Za-z][\w-]*(?:=\S+)?)+)", snippet):
                for word in words.split():
                    if "=" in word:
                        problems += [] if word.split("=")[0] in variables else [f"{path.name}: make variable {word}"]
                    elif word not in targets:
                        problems.append(f"{path.name}: make target {word}")
        # "`make bench` (or one of `bench-schema`, `bench-ingest`, ...)"
        for listed in [span for span in inline_code(text) if re.fullmatch(r"bench-[a-z]+", span)]:
            problems += [] if listed in targets else [f"{path.name}: make target {listed}"]
    assert not problems, "\n".join(problems)


REPO_FOLDERS = ("src", "tests", "bench", "docs")
FOREIGN_DOCS = {"torus-compatibility.md"}  # cites Torus's own files by their bare names


def quoted(name: str) -> str:
    return f'"{name}"'


PATH_LIKE = re.compile(r"^(?:src|tests|bench|docs)/[\w./*{}-]+$|^[\w/*-]+\.(?:py|md|sql)$")


def test_every_repository_path_named_exists() -> None:
    """`tests/test_import_graph.py`, `docs/lrs.md`, `paths.py`, `migrations/*.sql`: each names a file in the repo (a
    bare name may live in any folder)."""
    code = [path.read_text(encoding="utf-8") for path in (ROOT / "src").rglob("*.py")]
    problems = []
    for path in DOC_FILES:
        text = doc_text(path)
        names = set(re.findall(r"\]\(([^)#]+)\)", text))
        names |= {span for span in inline_code(text) if PATH_LIKE.match(span)}
        for snippet in code_snippets(text):
            names |= {word for word in snippet.split() if PATH_LIKE.match(word) and "/" in word}
        for name in sorted(names):
            if re.match(r"https?://", name):
                continue
            if (path.parent / name).exists() or list(ROOT.glob(name)):
                continue
            if "/" not in name and (path.name in FOREIGN_DOCS or any(quoted(name) in text for text in code)):
                continue  # a file of Torus's, or one the code writes (lambda_function.py in the ETL zip)
            if not any(list((ROOT / folder).glob("**/" + name)) for folder in REPO_FOLDERS):
                problems.append(f"{path.name}: {name}")
    assert not problems, "\n".join(problems)


def resolve_dotted(name: str) -> bool:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def test_every_module_and_attribute_named_exists() -> None:
    """`xolap.analytics.labels.MAX_LABEL_CHARS`, `store.accounts.PASSWORD_PARAMETERS` (under xolap), ..."""
    packages = {path.name for path in (ROOT / "src" / "xolap").iterdir() if path.is_dir()}
    problems = []
    for path in DOC_FILES:
        spans = inline_code(doc_text(path))
        for name in {span for span in spans if re.fullmatch(r"(?:xolap\.)?[a-z_]+(?:\.[A-Za-z_]\w*)+", span)}:
            if name.split(".")[0] not in packages | {"xolap"} or name.endswith((".py", ".md", ".sql")):
                continue
            full = name if name.startswith("xolap.") else "xolap." + name
            if full.count(".") == 1 and not any(
                (ROOT / "src" / full.replace(".", "/")).with_suffix(s).exists() for s in (".py", "")
            ):
                continue  # `xolap.toml`, `xolap.raw_events`: a file or a table, not a module
            if not resolve_dotted(full):
                problems.append(f"{path.name}: {name}")
    assert not problems, "\n".join(problems)


def route_templates(app: Any) -> list[list[str]]:
    """Every route's path as segments; a `{parameter}` segment stands for any one segment, `{p:path}` for the rest."""
    from fastapi.routing import iter_route_contexts

    return [context.path.strip("/").split("/") for context in iter_route_contexts(app.routes) if context.path]


def segments_match(documented: list[str], route: list[str], *, anchored: bool = False) -> bool:
    """Segment by segment; with anchored=True the first segment must be the route's own word, not a parameter."""
    if anchored and documented and route and documented[0] != route[0]:
        return False
    for index, segment in enumerate(documented):
        if index >= len(route):
            return False
        if route[index].endswith(":path}"):
            return True
        parameter = route[index].startswith("{")
        if not (parameter or segment == "*" or segment == route[index]):
            return False
    return len(documented) == len(route)


def documented_routes() -> set[tuple[str, str]]:
    """(file, path) of every route-like code span: `/admin/lrs`, `POST /api/v1/statements`, `.../analytics/query`."""
    routes = set()
    for path in DOC_FILES:
        if path.name in FOREIGN_DOCS:
            continue  # its `…/section_id` are xAPI extension IRIs
        for span in code_snippets(doc_text(path)):
            for word in span.split():
                if re.match(r"^(?:\.\.\.|…)?/[A-Za-z{]", word) and not re.match(r"/(?:tmp|etc|usr|opt|dev)/", word):
                    routes.add((path.name, word.split("?")[0].split("[")[0].rstrip(".,;:")))
    return routes


def route_is_served(doc_path: str, routes: list[list[str]]) -> bool:
    """A documented path is served when a route matches it segment by segment: `{x}`, `<x>` or a number stand for
    any value, `{a|b}` for each of a and b, a leading `...` for the start of a longer path, a trailing `…` for its
    rest, and a one-segment path (`/xAPI`) may be a route, the base of routes or the end of one."""
    alternatives = re.search(r"\{(\w+(?:\|\w+)+)\}", doc_path)
    if alternatives:
        return all(
            route_is_served(doc_path.replace(alternatives.group(0), choice, 1), routes)
            for choice in alternatives.group(1).split("|")
        )
    if re.fullmatch(r"/[\w-]+", doc_path):  # `/xAPI`: a route or the base of routes; `/summary`: the end of one
        name = doc_path[1:]
        return any(route[0] == name for route in routes) or route_is_served("..." + doc_path, routes)
    partial = doc_path.startswith(("...", "…"))
    truncated = doc_path.endswith(("...", "…"))
    documented = [
        "*" if re.fullmatch(r"\{[^}]+\}|<[^>]+>|\d+", segment) else segment
        for segment in doc_path.strip(".…").strip("/").split("/")
    ]
    if truncated and documented[-1] == "":
        documented.pop()
    size = len(documented)
    for route in routes:
        if partial and truncated:
            candidates = [route[i : i + size] for i in range(len(route) - size + 1)]
        elif partial:
            candidates = [route[-size:]]
        elif truncated:
            candidates = [route[:size]] if len(route) > size else []
        else:
            candidates = [route]
        if any(segments_match(documented, candidate, anchored=partial) for candidate in candidates):
            return True
    return False


def test_every_route_named_is_served(base_settings) -> None:
    from xolap.runtime import Runtime
    from xolap.web.app import create_app

    routes = route_templates(create_app(Runtime(settings=base_settings)))  # routes only: nothing is started
    assert route_is_served("/api/v1/statements", routes)
    assert route_is_served("/api/v1/sections/42/analytics/…", routes)
    assert route_is_served(".../analytics/query", routes)
    assert route_is_served("/xAPI", routes) and route_is_served("/summary", routes)
    assert not route_is_served("/no-such-thing", routes)
    assert not route_is_served("/api/v1/no-such-thing", routes)
    assert not route_is_served("/api/v1/sections/42/no-such-thing/…", routes)
    assert not route_is_served(".../analytics/no-such-thing", routes)
    missing = sorted(f"{name}: {route}" for name, route in documented_routes() if not route_is_served(route, routes))
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("doc", [path.name for path in DOC_FILES])
def test_docs_links_to_anchors_point_at_headings(doc: str) -> None:
    """[text](other.md#anchor) and (#anchor) point at a heading that exists."""
    path = next(p for p in DOC_FILES if p.name == doc)
    problems = []
    for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", doc_text(path)):
        linked = (path.parent / target) if target else path
        headings = re.findall(r"(?m)^#+ (.+)$", doc_text(linked))
        slugs = {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}
        if anchor not in slugs:
            problems.append(f"{target}#{anchor}")
    assert not problems, "\n".join(problems)


# --- behaviour the README states about the command line --------------------------------------------------------------

LOADED_MODULES = """
import sys
{setup}
try:
    app(["--help"])
except SystemExit:
    pass
print("MODULES:", " ".join(sorted({{name.split(".")[0] for name in sys.modules}})))
"""

PLAIN_TYPER_APP = """
import typer
app = typer.Typer()
@app.command()
def hello(name: str) -> None:
    pass
@app.command()
def bye(name: str) -> None:
    pass
"""


def top_level_modules_loaded(setup: str) -> set[str]:
    import subprocess
    import sys

    code = LOADED_MODULES.format(setup=setup)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES:"))
    return set(line.split()[1:])


def test_xolap_help_imports_only_typer_and_rich() -> None:
    """README: "`xolap --help` imports only typer and rich": beyond the standard library and xolap's own modules, the
    help loads nothing a plain typer app's help does not (typer, rich and what they import themselves)."""
    import sys

    plain = top_level_modules_loaded(PLAIN_TYPER_APP)
    xolap = top_level_modules_loaded("from xolap.cli import app")
    assert {"typer", "rich"} <= plain
    extra = xolap - plain - set(sys.stdlib_module_names) - {"xolap"}
    assert not extra, f"xolap --help imports {sorted(extra)}"


def test_custom_sql_rewrite_example_is_what_the_guard_prints() -> None:
    """docs/custom-sql.md shows what a section's query becomes: the text is the guard's own output."""
    from xolap.analytics.guard import guard

    block = doc_text(ROOT / "docs" / "custom-sql.md").split("-- you write (section 42)\n", 1)[1].split("```", 1)[0]
    written, runs = block.split("\n-- what runs", 1)
    shown = " ".join(runs.split("\n", 1)[1].split())
    assert guard(written.strip(), scope="section", database="xolap").sql == shown


def test_custom_sql_error_kinds_are_the_executors() -> None:
    """docs/custom-sql.md lists every error kind the executor can answer (its ClickHouse code table and the kinds it
    raises itself) and no other, besides the guard's refusal."""
    import inspect

    from xolap.analytics import executor

    source = inspect.getsource(executor)
    kinds = {kind for kind, _ in executor._ERROR_KINDS.values()}
    kinds |= set(re.findall(r'QueryError\(\s*"([a-z_]+)"', source))
    listed = doc_text(ROOT / "docs" / "custom-sql.md").split("Errors carry a stable `kind`:", 1)[1].split("\n\n")[0]
    documented = set(re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", listed)))
    assert documented - {"guard"} == kinds


def test_event_type_labels_table_is_the_codes() -> None:
    """docs/dashboard-json.md's table of stored event types and their labels is what labels.event_type_labels gives."""
    from xolap.analytics.labels import event_type_labels

    rows = table_rows(doc_text(ROOT / "docs" / "dashboard-json.md"), "| stored | label |")
    documented = {}
    for stored, label in rows:
        named = re.search(r"`(\w+)`", stored)
        assert named, f"no stored type in {stored!r}"
        documented[named.group(1)] = label
    assert len(documented) >= 6
    assert event_type_labels(list(documented)) == documented


def test_every_bench_option_shown_exists() -> None:
    """`python bench/ingest.py --memory --rows 20000 --huge-mib 256`: each option is one the script declares."""
    problems = []
    seen = 0
    for name, snippet in all_snippets():
        for script, tail in re.findall(r"bench/(\w+)\.py((?:\s+[^\s`|;>]+)*)", snippet):
            source = (ROOT / "bench" / f"{script}.py").read_text(encoding="utf-8")
            for option in re.findall(r"(?<!\S)(--[a-z][\w-]*)", tail):
                seen += 1
                if f'"{option}"' not in source:
                    problems.append(f"{name}: bench/{script}.py {option}")
    assert seen >= 4, "the docs show fewer bench options than expected: is the reader broken?"
    assert not problems, "\n".join(problems)


def test_readme_opens_with_make_demo_and_make_test() -> None:
    """The README's first block is the two commands a fresh machine runs: `make demo`, then `make test`."""
    readme = doc_text(ROOT / "README.md")
    first_block = re.search(r"```[^\n]*\n(.*?)```", readme, re.S)
    assert first_block and readme.index("```") < readme.index("\n## ")
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands[:2] == ["make demo", "make test"]
    targets = set(re.findall(r"(?m)^([a-z][\w-]*):", (ROOT / "Makefile").read_text(encoding="utf-8")))
    assert {"demo", "test"} <= targets


def test_etl_log_stages_are_the_ones_logged() -> None:
    """docs/etl-deploy.md §7 lists each `ETL stage` name the handler and the worker log, and no other."""
    code = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "src" / "xolap" / "ingest").rglob("*.py"))
    logged = set(re.findall(r"\bstage\(\s*\"([a-z_]+)\"", code))
    text = doc_text(ROOT / "docs" / "etl-deploy.md").split("## 7. Logs", 1)[1].split("\n## ", 1)[0]
    listed = text.split("Stages:", 1)[1]
    documented = set(re.findall(r"`([a-z_]+)`", re.sub(r"\(trigger [^)]*\)", "", listed)))
    assert len(logged) >= 10
    assert documented == logged


# --- the README's benchmark tables ----------------------------------------------------------------------------------

# (bench, a goal cell's pattern, the code's value): each bound the README's tables state is the bench's own.
BENCH_BOUNDS: list[tuple[str, str, Any]] = [
    ("ingest", r"SQL path ≥ ([\d.]+)×", lambda m: m.GOALS["sql"]),
    ("ingest", r"Python path ≥ ([\d.]+)×", lambda m: m.GOALS["python"]),
    ("backfill", r"chunk 25 ≥ ([\d.]+)×", lambda m: m.GOAL),
    ("freshness", r"p95 ≤ ([\d.]+) s", lambda m: m.GOAL_P95_S),
    ("analytics", r"^5M (?:median|largest) section.*p95 ≤ (\d+) ms", lambda m: m.goals(5_000_000)["section_p95_ms"]),
    ("analytics", r"^5M largest project.*p95 ≤ (\d+) ms", lambda m: m.goals(5_000_000)["project_p95_ms"]),
    ("analytics", r"^50M (?:median|largest) section.*p95 ≤ (\d+) ms", lambda m: m.goals(50_000_000)["section_p95_ms"]),
    ("analytics", r"^50M largest project.*p95 ≤ (\d+) ms", lambda m: m.goals(50_000_000)["project_p95_ms"]),
    ("analytics", r"≥ (\d+) queries/s", lambda m: m.CONCURRENCY_GOAL_QPS),
    ("analytics", r"queries/s, p95 ≤ (\d+) ms", lambda m: m.CONCURRENCY_GOAL_P95_MS),
    ("analytics", r"warm answers p95 ≤ (\d+) ms", lambda m: m.goals(5_000_000)["warm_p95_ms"]),
    ("http_load", r"p95 ≤ (\d+) ms", lambda m: m.GOAL_P95_MS),
    ("lrs", r"≤ ([\d.]+)× the direct uploader", lambda m: m.GOAL_X_DIRECT),
    ("warm", r"server time p95 ≤ ([\d.]+) ms", lambda m: m.GOAL_MS),
]


def readme_bench_tables() -> dict[str, list[list[str]]]:
    """bench name -> the rows (header first) of the table under its `### bench/<name>` heading in the README."""
    section = doc_text(ROOT / "README.md").split("\n## Benchmarks\n", 1)[1].split("\n## ", 1)[0]
    tables = {}
    for name in re.findall(r"(?m)^### bench/(\w+)$", section):
        rows = table_rows(section, f"### bench/{name}\n")
        tables[name] = rows
    return tables


def bound_problems(tables: dict[str, list[list[str]]]) -> list[str]:
    from bench_modules import load_bench

    problems = []
    for bench, pattern, expected in BENCH_BOUNDS:
        goals = [row[0] for row in tables.get(bench, [])[1:]]
        found = [match for goal in goals if (match := re.search(pattern, goal))]
        if not found:
            problems.append(f"bench/{bench}: no goal matches {pattern!r}")
        value = expected(load_bench(bench))
        problems += [
            f"bench/{bench}: the README says {match.group(0)!r}, the bench's goal is {value}"
            for match in found
            if float(match.group(1)) != float(value)
        ]
    return problems


def test_the_benchmark_tables_give_each_bench_its_goals_figures_and_verdicts() -> None:
    """Each bench (the Makefile's and the standalone ones) has a table under its own heading: goal, xolap's figure, the
    baseline, a verdict that is PASS or MISS, and when it was measured; the bounds it states are the bench's own."""
    from bench_modules import STANDALONE, make_bench_scripts

    tables = readme_bench_tables()
    assert sorted(make_bench_scripts() | STANDALONE) == sorted(tables)
    for name, rows in tables.items():
        header = [cell.lower() for cell in rows[0]]
        assert header[0] == "goal" and header[1].startswith("xolap") and header[-1] == "measured", (name, header)
        assert any(cell.startswith("verdict") for cell in header) and len(rows) > 1, name
        verdicts = [row[header.index(next(c for c in header if c.startswith("verdict")))] for row in rows[1:]]
        assert all(re.match(r"(PASS|MISS)\b", cell) for cell in verdicts), (name, verdicts)
        assert all(re.search(r"20\d\d-\d\d-\d\d", row[-1]) for row in rows[1:]), f"{name}: a figure without its date"
    assert not bound_problems(tables), "\n".join(bound_problems(tables))


def test_the_bound_check_sees_a_wrong_goal() -> None:
    tables = readme_bench_tables()
    tables["backfill"] = [tables["backfill"][0], ["inventory chunk 25 ≥ 0.8× the raw read's rows/s", "1.78×", "raw"]]
    assert any("0.9" in problem for problem in bound_problems(tables))
    tables["lrs"] = [tables["lrs"][0]]
    assert any("bench/lrs: no goal matches" in problem for problem in bound_problems(tables))
