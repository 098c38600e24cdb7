"""Chart labels instructors can read: event-type words, short labels that fit, and repeated titles told apart.

Charts are keyed by content id; a label is what an axis or legend shows for that id. `unique_labels` gives every id
one label no other id shares (repeated titles get a short id after them), shortened with a middle ellipsis so the
start and end of a long title stay visible; the full title stays in the row for tooltips. `short_names` removes the
words a set of names shares at its start ("Probability and Statistics — Spring 2026 (Section 02)" → "Section 02").
Everything here runs over a chart's few result rows in Python: no extra pass over the events.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

MAX_LABEL_CHARS = 42  # about 260 px of an 11 px axis label
# What unique_labels keys its labels by (an event type, a section id, a page id...).
LabelKey = TypeVar("LabelKey", bound=Hashable)
ELLIPSIS = "…"

EVENT_TYPE_WORDS = {
    "page_viewed": "Page views",
    "activity_attempt": "Activity attempts",
    "part_attempt": "Question attempts",
    "page_attempt": "Graded page attempts",
    "video": "Video interactions",
    "unknown": "Other",
}
OTHER_EVENTS = "Other"

# A shared start is only removed up to one of these separators, so "Unit 1" and "Unit 2" keep their numbers.
_SEPARATOR = re.compile(r"(\s+[—–\-·|:/]\s+|:\s+|\s+\(|,\s+)")


def event_type_label(event_type: str | None) -> str:
    """The instructor's word for a stored event type ('part_attempt' → 'Question attempts'); 'unknown' or an empty
    type is 'Other', a type the mapping never writes (e.g. loaded by a backfill) 'Other (its words)'."""
    text = " ".join(str(event_type or "").split()).lower()
    if not text:
        return OTHER_EVENTS
    if text in EVENT_TYPE_WORDS:
        return EVENT_TYPE_WORDS[text]
    return f"{OTHER_EVENTS} ({middle_ellipsis(text.replace('_', ' '), MAX_LABEL_CHARS - 8)})"


def event_type_labels(event_types: Iterable[str | None]) -> dict[str | None, str]:
    """One instructor label per stored event type, unique even when two odd types read alike."""
    return unique_labels(
        (event_type, event_type_label(event_type), str(event_type).replace("_", " ")) for event_type in event_types
    )


def middle_ellipsis(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """`text` cut to at most `limit` characters by replacing its middle with '…' (start and end stay readable)."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    keep = limit - 1
    head = text[: (keep + 1) // 2].rstrip()
    tail = text[len(text) - keep // 2 :].lstrip()
    return f"{head}{ELLIPSIS}{tail}"


def _strip_brackets(text: str) -> str:
    text = text.strip()
    if text.startswith("(") and text.endswith(")") and text.count("(") == 1 and text.count(")") == 1:
        return text[1:-1].strip()
    return text.rstrip(")").strip() if text.count(")") > text.count("(") else text


def short_names(names: Sequence[str]) -> list[str]:
    """The names without the start they all share (cut at a separator such as ' — ', ': ', ' (' or ', ');
    unchanged when fewer than two distinct names, when nothing is shared, or when a name would become empty."""
    cleaned = [" ".join(str(name).split()) for name in names]
    if len(set(cleaned)) < 2:
        return cleaned
    shortest = min(cleaned, key=len)
    cut = 0
    for match in _SEPARATOR.finditer(shortest):
        prefix = shortest[: match.end()]
        if all(name.startswith(prefix) for name in cleaned):
            cut = match.end()
        else:
            break
    if cut == 0:
        return cleaned
    shortened = [_strip_brackets(name[cut:]) for name in cleaned]
    if any(not name for name in shortened) or len(set(shortened)) < len(set(cleaned)):
        return cleaned
    return shortened


def unique_labels(items: Iterable[tuple[LabelKey, str, str]], limit: int = MAX_LABEL_CHARS) -> dict[LabelKey, str]:
    """One label per id from (id, title, short id) triples: the title shortened to `limit` characters; when titles
    (or their shortened forms) repeat, ' · <short id>' is added; any label still shared gets ' #n'. Two ids never
    share a label, so a chart keyed by label draws one mark per id."""
    entries: dict[LabelKey, tuple[str, str]] = {}
    for key, title, short_id in items:
        entries.setdefault(key, (" ".join(str(title or "").split()) or str(short_id), str(short_id)))
    base = {key: middle_ellipsis(title, limit) for key, (title, _) in entries.items()}
    repeated = Counter(base.values())
    labels: dict[LabelKey, str] = {}
    for key, (title, short_id) in entries.items():
        if repeated[base[key]] == 1:
            labels[key] = base[key]
            continue
        suffix = f" · {middle_ellipsis(short_id, max(8, limit // 2))}"
        labels[key] = middle_ellipsis(title, max(limit - len(suffix), 8)) + suffix
    taken = Counter(labels.values())
    used: set[str] = set()
    for key, label in labels.items():
        if taken[label] > 1 or label in used:
            number = 1
            while f"{label} #{number}" in used or f"{label} #{number}" in taken:
                number += 1
            label = f"{label} #{number}"
            labels[key] = label
        used.add(label)
    return labels


def video_short_id(url: str) -> str:
    """A video's short id: the file name in its URL without the extension ('…/distributions-2.mp4' →
    'distributions-2'); the whole URL when it has no file name."""
    text = str(url)
    parts = urlsplit(text)
    name = (parts.path if parts.scheme or parts.netloc else text).rstrip("/").rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    return stem or text


def add_labels(
    rows: list[dict[str, Any]],
    *,
    id_field: str,
    title_field: str,
    label_field: str,
    short_id: Callable[[Any], str] = lambda value: f"#{value}",
) -> list[dict[str, Any]]:
    """The rows with `label_field` set to their id's unique label (rows sharing an id share the label)."""
    labels = unique_labels((row[id_field], row.get(title_field) or "", short_id(row[id_field])) for row in rows)
    return [{**row, label_field: labels[row[id_field]]} for row in rows]
