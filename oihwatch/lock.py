"""The write lock: one oihwatch process at a time writes to a corpus.

An ``flock`` on ``<database>.lock`` is released by the kernel when its holder dies,
so a lock left by a crashed process is taken over without any guesswork; the file
also records who holds it (pid, command, since when) for the message a second
process prints.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from corpus.errors import WRITABLE_FOLDER, LockError, StorageError, unwritable


# ``held`` (behind 'oihwatch status') takes the lock shared for a moment: a writer that would not
# wait at all still tries for this long, so a status at the same moment never fails a run.
GRACE = 0.5


def lock_path(database: Path) -> Path:
    """The lock file of a corpus: beside it, so every process writing it finds the same one."""
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def write_lock(
    path: Path,
    command: str,
    wait: float = 5.0,
) -> Iterator[None]:
    """Hold the lock at ``path`` for the ``with`` block; wait up to ``wait`` seconds for it (at least ``GRACE``)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # a descriptor: closing it never writes
    except OSError as exc:
        raise _unopened(path, exc) from None
    try:
        deadline = time.monotonic() + max(wait, GRACE)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockError(f"another oihwatch is writing to this corpus ({_holder(path)}); try again later") from None
                time.sleep(0.1)
        since = datetime.now(timezone.utc).isoformat(timespec="seconds")
        _record_holder(handle, json.dumps({"pid": os.getpid(), "command": command, "since": since}).encode())
        try:
            yield
        finally:
            _record_holder(handle, b"")
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def _unopened(path: Path, exc: OSError) -> StorageError:
    """The lock file cannot be opened: name the folder or the files this user may not write, and their
    owner (a lock file left by a ``sudo oihwatch run`` sits in a folder the service user can write)."""
    doing = "open" if path.exists() else "create"
    fix = unwritable(path.with_suffix("")) if exc.errno in (errno.EACCES, errno.EPERM) else None
    return StorageError(f"cannot {doing} the lock file {path}: {exc.strerror}; {fix or WRITABLE_FOLDER}")


def _record_holder(handle: int, text: bytes) -> None:
    """Who holds the lock, for the message a second process prints. Only that message needs it, so
    a full disk leaves it unrecorded rather than stopping the command: the flock is the lock."""
    with contextlib.suppress(OSError):
        os.ftruncate(handle, 0)
        os.pwrite(handle, text, 0)


def held(path: Path) -> bool:
    """Whether a live process holds the lock at ``path`` (the kernel drops a dead one's), without
    taking it or creating the file."""
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        return False
    except OSError:  # unreadable: no telling, so the run log stands as recorded
        return True
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _holder(path: Path) -> str:
    """Who holds the lock, as its holder recorded it; a holder records itself just after taking it."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return f"'{info['command']}', pid {info['pid']}, since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):  # an empty file among them
        return f"holder not recorded in the lock file {path}"
