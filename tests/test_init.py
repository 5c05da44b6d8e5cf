"""``oihwatch init`` where the config cannot be written whole: a full disk, a file-size limit."""

from __future__ import annotations

import pytest

from oihwatch.config import default_config_text
from size_limit import oihwatch_limited

LIMIT = 8192  # bytes: less than the commented config


@pytest.mark.parametrize("force", [False, True])
def test_init_cut_short_by_a_size_limit_leaves_no_file_or_the_previous_one(tmp_path, force):
    """Written in place, the config was cut mid-line: the next init refused to replace it, every
    other command said it was not valid TOML, and ``--force`` had destroyed the config it replaced."""
    path = tmp_path / "config.toml"
    before = '[ncbi]\nemail = "kept@example.org"\n'
    if force:
        path.write_text(before, encoding="utf-8")
    assert len(default_config_text("t@example.org").encode()) > LIMIT
    result = oihwatch_limited(LIMIT, "-c", str(path), "init", "--email", "t@example.org", *(["--force"] if force else []))
    assert [p.name for p in tmp_path.iterdir()] == (["config.toml"] if force else [])
    if force:
        assert path.read_text(encoding="utf-8") == before
    assert result.returncode == 1
    assert result.stderr == (f"Error: cannot write {path}: the file reached this process's file-size limit "
                             f"({LIMIT:,} bytes: ulimit -f); raise it and run it again\n")
