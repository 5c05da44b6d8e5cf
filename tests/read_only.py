"""A folder this process cannot write in: ``chmod 555``, as an operator would make it.

Root ignores permission bits, so under root the calls that would add an entry to the folder
(open, mkdir) fail the way ``chmod`` makes them fail for anyone else (EACCES), ``os.access``
says the folder is not writable, and SQLite cannot open a database there for writing (it would
need its ``-wal`` and ``-shm`` files beside it). No mount: nothing outside the test changes.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import io
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder``, read-only for the ``with`` block."""
    folder.chmod(0o555)
    try:
        with pytest.MonkeyPatch.context() as patch:
            if os.geteuid() == 0:
                _refuse_entries(patch, folder.absolute())
            yield folder
    finally:
        folder.chmod(0o755)


def _refuse_entries(patch: pytest.MonkeyPatch, folder: Path) -> None:
    def where(path) -> Path:
        return Path(os.path.abspath(os.fsdecode(path)))

    def guard(call, new=lambda path, *rest, **options: True):
        def guarded(path, *rest, **options):
            if not isinstance(path, int) and where(path).parent == folder and new(path, *rest, **options):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
            return call(path, *rest, **options)
        return guarded

    def opening_new(path, mode="r", *rest, **options) -> bool:
        return any(flag in mode for flag in "wax+") and not os.path.exists(path)

    def os_opening_new(path, flags, *rest, **options) -> bool:
        return bool(flags & os.O_CREAT) and not os.path.exists(path)

    access, connect = os.access, sqlite3.connect

    def folder_access(path, mode, **options) -> bool:
        return not (mode & os.W_OK and where(path) == folder) and access(path, mode, **options)

    def connect_reading(database, *args, uri=False, **options):
        if not uri and database != ":memory:" and where(database).parent == folder:
            raise sqlite3.OperationalError("unable to open database file")
        return connect(database, *args, uri=uri, **options)

    patch.setattr(os, "access", folder_access)
    patch.setattr(sqlite3, "connect", connect_reading)
    for module in (builtins, io):  # pathlib opens through io.open
        patch.setattr(module, "open", guard(builtins.open, opening_new))
    patch.setattr(os, "open", guard(os.open, os_opening_new))
    patch.setattr(os, "mkdir", guard(os.mkdir))
