"""What the benches share to measure: percentiles of timings and a free loopback port for the servers they start."""

from __future__ import annotations

import socket


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between the two nearest ranks; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
