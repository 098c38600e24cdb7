"""A count with its noun for messages people read: "1 row", "2 rows", "1,234 rows", "1 row/s" (the one Python
helper; static/js/counted.js is the browser's, with the same rule)."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` with thousands separators and `noun`: singular for exactly 1, else `plural` (default noun + "s").
    A rate is counted whole: counted(round(rate), "row") + "/s"."""
    return f"{count:,} {noun if count == 1 else (plural or noun + 's')}"
