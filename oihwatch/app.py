"""The application context every command shares: settings, store and lock, opened lazily.

``oihwatch init`` and ``--help`` need no configuration, so nothing is read until a
command asks for it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path

from corpus.store import Store
from oihwatch.config import Settings, config_path, load_settings
from oihwatch.lock import write_lock


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
        return Store(self.settings.database_path)

    @contextlib.contextmanager
    def writing(self, command: str) -> Iterator[Store]:
        """The store, under the write lock shared by every command that writes.

        Re-entrant: ``run`` holds the lock for the whole pass while its steps take it again.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield self.store
            finally:
                self._lock_depth -= 1
            return
        lock_file = self.settings.database_path.with_name(self.settings.database_path.name + ".lock")
        with write_lock(lock_file, command, wait=self.settings.database.lock_wait):
            self._lock_depth = 1
            try:
                yield self.store
            finally:
                self._lock_depth = 0

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
