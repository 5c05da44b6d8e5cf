"""The write lock: a second writer is refused with the holder named; a dead holder's lock is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from corpus.errors import LockError, StorageError
from oihwatch.lock import held, write_lock
from read_only import read_only

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from oihwatch.lock import write_lock
    with write_lock(Path(sys.argv[1]), "harvest"):
        print("locked", flush=True)
        sys.stdin.readline()
    """
)


def hold(path):
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout.readline().strip() == "locked"
    return process


def test_second_writer_is_refused_naming_the_holder(tmp_path):
    path = tmp_path / "c.db.lock"
    holder = hold(path)
    try:
        with pytest.raises(LockError, match=rf"'harvest', pid {holder.pid}, since \d{{4}}-"):
            with write_lock(path, "digest", wait=0.3):
                pass
    finally:
        holder.communicate("\n")
    with write_lock(path, "digest", wait=0):  # released: free again
        pass


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    path = tmp_path / "c.db.lock"
    holder = hold(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate()
    assert "harvest" in path.read_text()  # the dead holder's note is still there
    with write_lock(path, "run", wait=1):
        assert '"command": "run"' in path.read_text()


def test_lock_is_released_when_the_block_fails(tmp_path):
    path = tmp_path / "c.db.lock"
    with pytest.raises(RuntimeError):
        with write_lock(path, "run"):
            raise RuntimeError("boom")
    with write_lock(path, "run", wait=0):
        pass


def test_held_tells_a_live_holder_from_a_dead_one_without_creating_the_file(tmp_path):
    path = tmp_path / "c.db.lock"
    assert not held(path) and not path.exists()
    holder = hold(path)
    assert held(path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate()
    assert not held(path)


def test_a_read_only_folder_is_one_line_naming_the_lock_file(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    with read_only(folder) as view:
        with pytest.raises(StorageError, match=r"cannot create the lock file .*c\.db\.lock: (Read-only file system|Permission denied); .*writable folder"):
            with write_lock(view / "c.db.lock", "run", wait=0):
                pass
