"""The write lock: a second writer is refused with the holder named; a dead holder's lock is taken over."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from corpus.errors import LockError, StorageError
from oihwatch.lock import GRACE, held, write_lock
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


class FakeTime:
    """The lock's clock: ``sleep`` moves it on at once, after running ``on_sleep``."""

    def __init__(self, on_sleep=lambda: None):
        self.now, self.on_sleep = 0.0, on_sleep

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.on_sleep()
        self.now += seconds


def test_a_writer_that_will_not_wait_is_not_refused_by_a_status_looking_at_the_lock(tmp_path, monkeypatch):
    path = tmp_path / "c.db.lock"
    path.touch()
    with open(path) as probe:
        fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)  # what 'status' does for a moment (held)
        monkeypatch.setattr("oihwatch.lock.time", FakeTime(on_sleep=lambda: fcntl.flock(probe, fcntl.LOCK_UN)))
        with write_lock(path, "run", wait=0):
            assert '"command": "run"' in path.read_text()


def test_a_holder_that_has_not_recorded_itself_is_named_by_its_lock_file(tmp_path, monkeypatch):
    path = tmp_path / "c.db.lock"
    path.touch()
    clock = FakeTime()
    monkeypatch.setattr("oihwatch.lock.time", clock)
    with open(path) as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LockError) as refused:
            with write_lock(path, "run", wait=0):
                pass
    assert str(refused.value) == f"another oihwatch is writing to this corpus (holder not recorded in the lock file {path}); try again later"
    assert clock.now >= GRACE


def test_a_read_only_folder_is_one_line_naming_the_lock_file(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    with read_only(folder) as view:
        with pytest.raises(StorageError, match=r"cannot create the lock file .*c\.db\.lock: (Read-only file system|Permission denied); .*writable folder"):
            with write_lock(view / "c.db.lock", "run", wait=0):
                pass


def test_a_full_disk_leaves_the_holder_unrecorded_but_the_lock_works(tmp_path, monkeypatch):
    """The holder's line is only for a second process's message; a full disk must not stop the command."""
    path = tmp_path / "c.db.lock"

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("oihwatch.lock.os.pwrite", full)
    with write_lock(path, "run", wait=0):
        with pytest.raises(LockError, match="holder not recorded"):  # held all the same
            with write_lock(path, "harvest", wait=0):
                pass
    with write_lock(path, "run", wait=0):  # and released
        pass


def test_a_lock_file_on_a_full_device_still_locks(tmp_path):
    """/dev/full fails every write with ENOSPC (a truncate with EINVAL), as a full disk does; the
    buffered writes this replaced raised there, on flush and again on close."""
    path = tmp_path / "c.db.lock"
    path.symlink_to("/dev/full")
    ran = []
    with write_lock(path, "run", wait=0):
        ran.append(True)
    assert ran == [True]
