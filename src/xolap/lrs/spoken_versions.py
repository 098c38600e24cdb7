"""The xAPI version each LRS credential last spoke (a supported X-Experience-API-Version header), per process: a
request of that credential without a supported header is refused (400) in that version, since the header must be
on every answer and the request itself names none. A new credential speaks 1.0.3. Bounded: the least recently
heard credentials are forgotten first (then they speak 1.0.3 again)."""

from __future__ import annotations

import threading
from collections import OrderedDict

DEFAULT = "1.0.3"
MAX_CREDENTIALS = 10_000

_lock = threading.Lock()
_last: OrderedDict[str, str] = OrderedDict()


def heard(credential_key: str, version: str) -> None:
    """`credential_key` just sent a request in `version` ("1.0.3" or "2.0.0")."""
    with _lock:
        _last[credential_key] = version
        _last.move_to_end(credential_key)
        while len(_last) > MAX_CREDENTIALS:
            _last.popitem(last=False)


def last(credential_key: str) -> str:
    """The version `credential_key` last spoke, else 1.0.3."""
    with _lock:
        return _last.get(credential_key, DEFAULT)
