"""Builds the deployable ETL Lambda zip: the xolap modules the handler imports (found by reading their imports),
a `lambda_function.py` entry (handler `lambda_function.lambda_handler`), minimal package metadata, and optionally
the third-party dependencies installed by pip for the Lambda platform (manylinux wheels).

Without --with-deps the zip expects clickhouse-connect, pyarrow, orjson, msgspec, pydantic and pydantic-settings from a
Lambda layer (boto3 is in the Python runtime). The zip is reproducible: sorted entries, fixed timestamps.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import xolap

ENTRY_MODULES = ("xolap.ingest.etl.handler",)
HANDLER_FILE = "lambda_function.py"
HANDLER_SOURCE = '''"""AWS Lambda entry point for xolap's ETL: set the function's handler to `lambda_function.lambda_handler`."""

from xolap.ingest.etl.handler import lambda_handler  # noqa: F401
'''
# Third-party packages the handler imports; boto3/botocore come with the Lambda Python runtime.
RUNTIME_REQUIREMENTS = ("clickhouse-connect", "pyarrow", "orjson", "msgspec", "pydantic", "pydantic-settings")
ARCH_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
LAMBDA_DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024


class PackageError(Exception):
    """The artifact could not be built; the message says which step failed."""


@dataclass(frozen=True)
class PackageResult:
    path: Path
    files: tuple[str, ...]
    zip_bytes: int
    unzipped_bytes: int
    with_deps: bool

    def warnings(self) -> list[str]:
        notes = []
        if self.zip_bytes > LAMBDA_DIRECT_UPLOAD_LIMIT:
            notes.append(f"zip is {self.zip_bytes / 2**20:.1f} MiB: over 50 MiB, upload it to S3 and deploy from there")
        if self.unzipped_bytes > LAMBDA_UNZIPPED_LIMIT:
            notes.append(
                f"unzipped size {self.unzipped_bytes / 2**20:.1f} MiB is over Lambda's 250 MiB limit: use a layer"
            )
        return notes


def _package_root() -> Path:
    return Path(xolap.__file__).resolve().parent


def _module_file(root: Path, module: str) -> Path | None:
    """The file of an xolap module (package __init__ or module .py), or None when it is not one."""
    parts = module.split(".")
    if parts[0] != "xolap":
        return None
    base = root.joinpath(*parts[1:]) if len(parts) > 1 else root
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    candidate = base.with_suffix(".py")
    return candidate if len(parts) > 1 and candidate.is_file() else None


def _imports(path: Path, module: str) -> set[str]:
    """Modules named by the imports of one file (including imports inside functions), resolved to absolute names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def module_closure(entry_modules: Iterable[str] = ENTRY_MODULES, root: Path | None = None) -> dict[str, Path]:
    """Every xolap module reachable from the entry modules by imports, with each parent package: name -> file."""
    root = root or _package_root()
    pending = list(entry_modules)
    seen: dict[str, Path] = {}
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        path = _module_file(root, module)
        if path is None:
            continue
        seen[module] = path
        parent = module.rpartition(".")[0]
        if parent:
            pending.append(parent)
        pending.extend(name for name in _imports(path, module) if name.startswith("xolap") and name not in seen)
    missing = [m for m in entry_modules if m not in seen]
    if missing:
        raise PackageError(f"entry module(s) not found under {root}: {', '.join(missing)}")
    return seen


def _metadata_files() -> dict[str, str]:
    version = metadata.version("xolap") if _has_dist("xolap") else "0"
    dist = f"xolap-{version}.dist-info"
    return {
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: xolap\nVersion: {version}\nSummary: xolap ETL Lambda artifact\n",
        f"{dist}/top_level.txt": "xolap\n",
    }


def _has_dist(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def install_dependencies(
    target: Path, *, python_version: str = "3.12", arch: str = "x86_64", requirements: Iterable[str] | None = None
) -> None:
    """pip install --target for the Lambda platform (manylinux wheels only; needs the package index)."""
    if arch not in ARCH_PLATFORMS:
        raise PackageError(f"unknown arch {arch!r}: use {' or '.join(ARCH_PLATFORMS)}")
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--upgrade",
        "--target", str(target),
        "--platform", ARCH_PLATFORMS[arch], "--implementation", "cp", "--python-version", python_version,
        "--only-binary=:all:",
        *(requirements or _pinned_requirements()),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise PackageError(
            f"pip install failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-1500:]}"
        )
    for leftover in target.glob("bin"):
        shutil.rmtree(leftover, ignore_errors=True)


def _pinned_requirements() -> list[str]:
    """The runtime requirements as xolap declares them (clickhouse-connect is pinned there; the others are ranges)."""
    declared = {}
    for requirement in metadata.requires("xolap") or [] if _has_dist("xolap") else []:
        spec = requirement.split(";")[0].strip()
        name = spec.split("[")[0]
        for sep in ("==", ">=", "<=", "~=", "!=", "<", ">"):
            name = name.split(sep)[0]
        declared[name.strip().lower()] = spec
    return [declared.get(name, name) for name in RUNTIME_REQUIREMENTS]


def _add_file(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o755 if executable else 0o644) << 16
    archive.writestr(info, data)


def build_package(
    out: Path,
    *,
    with_deps: bool = False,
    python_version: str = "3.12",
    arch: str = "x86_64",
    entry_modules: Iterable[str] = ENTRY_MODULES,
) -> PackageResult:
    """Write the Lambda zip to `out`; returns what went in."""
    root = _package_root()
    files: dict[str, bytes] = {HANDLER_FILE: HANDLER_SOURCE.encode()}
    for path in module_closure(entry_modules, root).values():
        files[f"xolap/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    files.update({name: text.encode() for name, text in _metadata_files().items()})
    if with_deps:
        with tempfile.TemporaryDirectory(prefix="xolap-etl-deps-") as staging:
            install_dependencies(Path(staging), python_version=python_version, arch=arch)
            for path in sorted(Path(staging).rglob("*")):
                relative = path.relative_to(staging).as_posix()
                if path.is_file() and "__pycache__" not in relative and not relative.startswith("xolap/"):
                    files.setdefault(relative, path.read_bytes())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(out.suffix + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            _add_file(archive, name, files[name])
    partial.replace(out)
    return PackageResult(
        path=out,
        files=tuple(sorted(files)),
        zip_bytes=out.stat().st_size,
        unzipped_bytes=sum(len(data) for data in files.values()),
        with_deps=with_deps,
    )
