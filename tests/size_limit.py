"""Running oihwatch under a file-size limit (``ulimit -f``), as a shell or a service manager may set one.

A real limit, not a mock: past it the kernel refuses a write with EFBIG (Python ignores the SIGXFSZ
that comes with it), and SQLite then says only 'disk I/O error'. The limit is set in a child process,
since it would bind pytest's own files too.
"""

from __future__ import annotations

import subprocess
import sys

LIMITED = ("import resource, sys; "
           "resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv.pop(1)), resource.getrlimit(resource.RLIMIT_FSIZE)[1])); "
           "from oihwatch.cli import main; main()")


def oihwatch_limited(limit: int, *args: str, **options) -> subprocess.CompletedProcess:
    """``oihwatch ARGS`` in a child process that may write no file past ``limit`` bytes."""
    return subprocess.run([sys.executable, "-c", LIMITED, str(limit), *args], capture_output=True, text=True, **options)
