"""Local secrets (session signing key, admin token): generated once, complete, the same for every reader."""

from __future__ import annotations

import threading

import pytest

from xolap.runtime import local_secret


def test_concurrent_first_readers_all_get_the_same_complete_secret(tmp_path):
    """The first requests of a fresh server ask for the session key at once: none may read the file between its
    creation and its content (an empty key, or another key than the one that signed the page's cookie)."""
    for attempt in range(40):
        data_dir = tmp_path / f"d{attempt}"
        barrier = threading.Barrier(8)
        seen: list[str] = []

        def read(data_dir=data_dir, barrier=barrier, seen=seen) -> None:
            barrier.wait()
            seen.append(local_secret(data_dir, "secret-key", 48))

        threads = [threading.Thread(target=read) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(seen) == 8
        assert len(set(seen)) == 1, f"attempt {attempt}: readers saw different secrets"
        assert len(seen[0]) >= 48, f"attempt {attempt}: a reader saw an incomplete secret {seen[0]!r}"
        assert (data_dir / "secret-key").stat().st_mode & 0o077 == 0
        assert [p.name for p in data_dir.iterdir()] == ["secret-key"], "no temporary file is left behind"


def test_an_empty_secret_file_is_refused_not_used(tmp_path):
    (tmp_path / "secret-key").write_text("")
    with pytest.raises(RuntimeError, match="secret-key"):
        local_secret(tmp_path, "secret-key")
