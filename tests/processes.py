"""Stopping an oihwatch process while it retries a failing NCBI (SIGINT for Ctrl-C, SIGTERM for a service)."""

from __future__ import annotations

import subprocess
import time

import pytest

from fake_eutils import FakeEutils


def signal_while_retrying(process: subprocess.Popen, fake: FakeEutils, signum: int) -> int:
    """Send ``signum`` once two efetch requests have failed (the process then waits to retry);
    returns how many requests the fake had seen by then."""
    deadline = time.monotonic() + 60
    while len(fake.requests("efetch")) < 2:
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.02)
    seen = len(fake.seen)
    process.send_signal(signum)
    return seen


def stderr_once_stopped(process: subprocess.Popen, seconds: float, what: str) -> str:
    """The process's stderr once it exits; the test fails (the process killed) if it runs ``seconds`` more."""
    try:
        return process.communicate(timeout=seconds)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"{what} was still running {seconds:g} s after the signal")
