"""Numbers people read on the admin pages: sizes in B/KiB/MiB/GiB/TiB and durations in ms/s/min/h/d (Jinja filters
`bytes` and `duration`, registered by xolap.web.negotiation)."""

from __future__ import annotations

_SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(value: float | int | None) -> str:
    """1536 -> '1.5 KiB', 199873490 -> '190.6 MiB'; None or a non-number -> '—'."""
    if value is None or isinstance(value, bool):
        return "—"
    try:
        size = float(value)
    except (TypeError, ValueError):
        return "—"
    sign = "-" if size < 0 else ""
    size = abs(size)
    for unit in _SIZE_UNITS:
        if size < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{sign}{int(size)} {unit}" if unit == "B" else f"{sign}{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_duration(seconds: float | int | None) -> str:
    """0.0123 -> '12 ms', 87 -> '1 min 27 s', 93784 -> '1 d 2 h'; None or a non-number -> '—'."""
    if seconds is None or isinstance(seconds, bool):
        return "—"
    try:
        total = float(seconds)
    except (TypeError, ValueError):
        return "—"
    if total < 0:
        return "—"
    if total < 1:
        return f"{round(total * 1000)} ms"
    if total < 60:
        return f"{total:.1f} s" if total < 10 else f"{round(total)} s"
    whole = int(round(total))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min {secs} s" if secs else f"{minutes} min"


def human_ms(milliseconds: float | int | None) -> str:
    """A duration given in milliseconds (query and backfill timings)."""
    if milliseconds is None or isinstance(milliseconds, bool):
        return "—"
    try:
        return human_duration(float(milliseconds) / 1000)
    except (TypeError, ValueError):
        return "—"


FILTERS = {"bytes": human_bytes, "duration": human_duration, "duration_ms": human_ms}
