"""The bench scripts (bench/*.py) loaded as modules for tests: their goal_verdicts, goals and constants."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
STANDALONE = {"http_load", "lrs", "warm"}  # benches run on their own besides the Makefile's bench-* targets


def load_bench(name: str) -> ModuleType:
    """bench/<name>.py as module bench_<name>. Its own imports of bench/ siblings (timing, verdicts, ...) are taken
    out of sys.modules afterwards: tests/timing.py shares a name with bench/timing.py."""
    key = f"bench_{name}"
    if key in sys.modules:
        return sys.modules[key]
    siblings = {path.stem for path in BENCH.glob("*.py")}
    shadowed = {sibling: sys.modules.pop(sibling) for sibling in siblings if sibling in sys.modules}
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(key, BENCH / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
        for sibling in siblings:
            sys.modules.pop(sibling, None)
        sys.modules.update(shadowed)
    return module


def make_bench_scripts() -> set[str]:
    """The scripts the Makefile's bench targets run."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"(?m)^\s+\$\(PY\) bench/(\w+)\.py", makefile))
