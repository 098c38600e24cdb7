"""`xolap generate`: write realistic Torus-shaped course data to a JSONL file, a JSONL folder or S3 bundles."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from xolap.counted import counted
from xolap.generator.model import DEFAULT_HOST, DEFAULT_START

if TYPE_CHECKING:
    from xolap.generator.sinks import JsonlFileSink, JsonlFolderSink, S3BundleSink

console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def _parse_s3(url: str) -> tuple[str, str]:
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if len(bucket) < 3:
        _fail(f"--out {url!r}: expected s3://bucket[/prefix] with a bucket name of at least 3 characters")
    return bucket, prefix


def _open_sink(
    out: str, *, seed: int, compress: bool, bundle_size: int
) -> tuple[JsonlFileSink | JsonlFolderSink | S3BundleSink, str]:
    from xolap.generator.sinks import JsonlFileSink, JsonlFolderSink, S3BundleSink

    if out.startswith("s3://"):
        from xolap.config import ConfigError, get_settings
        from xolap.ingest.s3_bundles import S3BundleUploader

        bucket, prefix = _parse_s3(out)
        try:
            settings = get_settings()
        except ConfigError as exc:
            _fail(str(exc), 1)
        uploader = S3BundleUploader.from_settings(settings, bucket=bucket, prefix=prefix)
        return S3BundleSink(uploader, seed=seed, bundle_size=bundle_size), f"S3 bundles under {out}"
    path = Path(out)
    if path.name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")):
        if path.is_dir():
            _fail(f"--out {out}: is a directory, but the name says a file")
        return JsonlFileSink(path), str(path)
    if path.exists() and not path.is_dir():
        _fail(f"--out {out}: exists and is not a directory (use a name ending .jsonl or .jsonl.gz for one file)")
    return JsonlFolderSink(
        path, compress=compress
    ), f"{path}/section/<id>/<category>/<day>.jsonl{'.gz' if compress else ''}"


def generate_command(
    events: int = typer.Option(..., "--events", "-n", min=0, help="How many statements to generate (exactly)."),
    out: str = typer.Option(
        ..., "--out", "-o", help="FILE.jsonl[.gz], a folder (split by section/category/day), or s3://bucket/prefix."
    ),
    seed: int = typer.Option(1, "--seed", help="Same seed and options give byte-identical output."),
    projects: int = typer.Option(3, "--projects", min=1, help="Course projects."),
    sections: int = typer.Option(3, "--sections", min=1, help="Sections per project."),
    learners: int | None = typer.Option(
        None, "--learners", min=1, help="Learners per section (default: about 400 events each)."
    ),
    start: str = typer.Option(
        DEFAULT_START.isoformat(), "--start", help="First possible term start date (YYYY-MM-DD)."
    ),
    host: str = typer.Option(DEFAULT_HOST, "--host", help="Torus host name (actor.account.homePage)."),
    catalogue: Path | None = typer.Option(
        None, "--catalogue", help="Also write the course catalogue (.json, or .csv + .sections.csv)."
    ),
    gzip_output: bool = typer.Option(False, "--gzip", help="Folder output: write .jsonl.gz files."),
    bundle_size: int = typer.Option(1000, "--bundle-size", min=1, help="S3 output: statements per bundle at most."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Generate realistic Torus-shaped xAPI course data (projects, sections, learners, a term of activity)."""
    from xolap.generator.catalogue import write_catalogue
    from xolap.generator.generate import CourseDataGenerator
    from xolap.generator.sinks import write_statements

    try:
        start_date = date.fromisoformat(start)
    except ValueError:
        _fail(f"--start {start!r}: expected a date YYYY-MM-DD")
    if catalogue is not None and catalogue.suffix.lower() not in (".json", ".csv"):
        _fail(f"--catalogue {catalogue}: must end with .json or .csv")
    try:
        generator = CourseDataGenerator(
            seed,
            events,
            projects=projects,
            sections_per_project=sections,
            learners_per_section=learners,
            start=start_date,
            host=host,
        )
    except ValueError as exc:
        _fail(str(exc))
    sink, where = _open_sink(out, seed=seed, compress=gzip_output, bundle_size=bundle_size)
    world = generator.world
    console.print(
        f"generating {counted(events, 'statement')}: {counted(len(world.projects), 'project')}, "
        f"{counted(len(world.sections), 'section')}, {counted(world.sections[0].learners, 'learner')} per section, "
        f"seed {seed} → {where}",
        markup=False,
        soft_wrap=True,
    )
    began = time.perf_counter()
    progress = Progress(
        TextColumn("[bold]generate"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )
    try:
        with progress, sink:
            task = progress.add_task("generate", total=events, rate="")

            def report(done: int) -> None:
                elapsed = time.perf_counter() - began
                progress.update(task, completed=done, rate=f"{done / elapsed:,.0f}/s" if elapsed > 0 else "")

            written = write_statements(generator, sink, on_progress=report)
    except Exception as exc:  # noqa: BLE001 - shown to the operator (S3 errors, disk full, ...)
        _fail(f"writing to {out} failed: {exc}", 1)
    elapsed = time.perf_counter() - began
    console.print(
        f"wrote {counted(written, 'statement')} in {elapsed:.1f} s "
        f"({counted(round(written / elapsed) if elapsed else 0, 'statement')}/s) to {where}",
        markup=False,
        soft_wrap=True,
    )
    if hasattr(sink, "keys"):
        console.print(f"{len(sink.keys):,} bundles uploaded")
    if catalogue is not None:
        files = write_catalogue(generator, catalogue)
        console.print("catalogue: " + ", ".join(str(f) for f in files), markup=False, soft_wrap=True)
