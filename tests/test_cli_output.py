"""Where the commands' output goes: a result stdout cannot take is one error line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FULL = "/dev/full"  # Linux: every write to it fails with ENOSPC, as on a full disk


@pytest.fixture
def config(tmp_path: Path, research_store_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\npath = "{research_store_path}"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    return path


def oihwatch(config: Path, *args: str, **options) -> subprocess.Popen:
    """The command in a process of its own (-X dev: an error Python ignores at exit is printed)."""
    command = [sys.executable, "-X", "dev", "-c", "from oihwatch.cli import main; main()", "-c", str(config), *args]
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True, **options)


@pytest.mark.skipif(not os.path.exists(FULL), reason=f"no {FULL} here")
@pytest.mark.parametrize("command", [
    ["export", "-q", "ketamine"],
    ["export", "-q", "nothing-matches-this", "--format", "csv"],  # a header only: still buffered at exit
    ["search", "ketamine", "--format", "json"],
    ["stats", "--json"],
    ["status"],
])  # fmt: skip
def test_a_result_stdout_cannot_take_is_one_error_line(config: Path, command: list[str]) -> None:
    with open(FULL, "w") as full:
        process = oihwatch(config, *command, stdout=full)
        stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: cannot write the output (stdout): No space left on device; what was written is incomplete"]
    assert stderr.splitlines()[-1] == errors[0]


def test_a_closed_pipe_ends_quietly(config: Path) -> None:
    process = oihwatch(config, "export", "-q", "pain", stdout=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()  # as '| head -1' does
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 1
    assert "Traceback" not in stderr and "Error" not in stderr and "Exception ignored" not in stderr, stderr
