"""A folder this process cannot write to, for real: chmod where that binds us, a read-only bind
mount where we are root (root ignores permission bits)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` as seen read-only (the same path unless a mount is needed); skips where impossible."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    view = folder.with_name(folder.name + "-ro")
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(folder), str(view)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("no way to make a read-only folder here (root without mount)")
    try:
        yield view
    finally:
        subprocess.run(["umount", "--lazy", str(view)], check=True)  # lazy: a failed test may hold a file open
