"""bench/generate: statements/s of `xolap generate` (generation + orjson serialization), alone and into JSONL sinks.
Prints a table plus JSON. Wall time depends on what else runs on the machine; CPU time (process_time) is the
generator's own cost, so both are reported, with peak RSS.

    python bench/generate.py [--events 1000000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from xolap.generator import generate  # noqa: E402
from xolap.generator.sinks import JsonlFileSink, JsonlFolderSink, write_statements  # noqa: E402


class _NullSink:
    bytes = 0

    def write(self, item, line: bytes) -> None:  # noqa: ANN001
        self.bytes += len(line) + 1

    def close(self) -> None:
        pass


def measure(name: str, events: int, seed: int, make_sink) -> dict:  # noqa: ANN001
    sink = make_sink()
    wall, cpu = time.perf_counter(), time.process_time()
    count = write_statements(generate(seed, events), sink)
    sink.close()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert count == events
    return {
        "case": name,
        "events": count,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "per_s_wall": round(count / wall),
        "per_s_cpu": round(count / cpu),
        "bytes": getattr(sink, "bytes", None),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(measure("generate + orjson (no I/O)", args.events, args.seed, _NullSink))
        results.append(
            measure("one JSONL file", args.events, args.seed, lambda: JsonlFileSink(Path(tmp) / "out.jsonl"))
        )
        results.append(
            measure("one JSONL.gz file", args.events, args.seed, lambda: JsonlFileSink(Path(tmp) / "out.jsonl.gz"))
        )
        results.append(
            measure(
                "folder section/category/day", args.events, args.seed, lambda: JsonlFolderSink(Path(tmp) / "folder")
            )
        )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nbench/generate: {args.events:,} statements, seed {args.seed}; peak RSS {peak_mib:.0f} MiB")
    print(f"{'case':<30} {'wall s':>8} {'cpu s':>8} {'stmt/s wall':>12} {'stmt/s cpu':>12}")
    for r in results:
        print(f"{r['case']:<30} {r['wall_s']:>8} {r['cpu_s']:>8} {r['per_s_wall']:>12,} {r['per_s_cpu']:>12,}")
    if results[0]["bytes"]:
        print(f"average statement: {results[0]['bytes'] / args.events:.0f} bytes")
    print(
        json.dumps(
            {
                "bench": "generate",
                "events": args.events,
                "seed": args.seed,
                "peak_rss_mib": round(peak_mib),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
