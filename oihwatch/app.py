"""The application context every command shares: settings, store and lock, opened lazily.

``oihwatch init`` and ``--help`` need no configuration, so nothing is read until a
command asks for it. Only the commands that bring records in (``CREATING``) start a
corpus where there is none: any other would report on, or add to, an empty one made by
a typing error in ``database.path``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path

from corpus.errors import NotACorpus, StorageError
from corpus.runs import mark_interrupted
from corpus.store import Store
from oihwatch.config import Settings, config_path, load_settings
from oihwatch.lock import lock_path, write_lock

CREATING = frozenset({"run", "harvest", "ingest"})


class App:
    def __init__(self, config_flag: str | None = None, environ: Mapping[str, str] | None = None):
        self.environ = os.environ if environ is None else environ
        self.config_file: Path = config_path(config_flag, self.environ)
        self._lock_depth = 0

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config_file, self.environ)

    @cached_property
    def store(self) -> Store:
        """The existing corpus; read-only where this process may not write, so reading still works there."""
        path = self.existing_database()
        return Store(path, read_only=not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)))

    def existing_database(self) -> Path:
        path = self.settings.database_path
        if not path.is_file():
            raise StorageError(
                f"no database at {path} (run 'oihwatch run', 'oihwatch harvest' or 'oihwatch ingest' first, or check database.path)"
            )
        return path

    @contextlib.contextmanager
    def writing(self, command: str) -> Iterator[Store]:
        """The store, under the write lock shared by every command that writes.

        Re-entrant: ``run`` holds the lock for the whole pass while its steps take it again.
        Taking it first marks the runs of a killed holder 'interrupted'.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield self.store
            finally:
                self._lock_depth -= 1
            return
        path = self.settings.database_path
        if command not in CREATING:
            self.existing_database()
        lock = lock_path(path)
        made_lock = not lock.exists()
        with write_lock(lock, command, wait=self.settings.database.lock_wait):
            if "store" not in self.__dict__:
                try:
                    self.__dict__["store"] = Store(path)
                except NotACorpus:  # leave nothing beside another program's file either
                    if made_lock:
                        lock.unlink(missing_ok=True)
                    raise
            mark_interrupted(self.store)
            self._lock_depth = 1
            try:
                yield self.store
            finally:
                self._lock_depth = 0

    def corruption(self, exc: sqlite3.DatabaseError) -> StorageError | None:
        """The error to show for ``exc`` if it comes from a damaged corpus file, else None."""
        store = self.__dict__.get("store")
        return store.corrupt_error(exc) if store is not None else None

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
