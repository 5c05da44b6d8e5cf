"""docs/labelling-guide.md asks of ``oihwatch label`` only what it records."""

from __future__ import annotations

import re
import subprocess
import sys

from click.testing import CliRunner

from conftest import REPO
from oihwatch.cli import cli


def test_the_guide_sends_notes_where_they_are_kept() -> None:
    """``label`` records a topic, --not or --clear, no note: a note asked for there would be lost."""
    options = set(re.findall(r"--[a-z][a-z-]*", CliRunner().invoke(cli, ["label", "--help"]).output)) - {"--help"}
    assert options == {"--not", "--clear"}
    guide = (REPO / "docs" / "labelling-guide.md").read_text(encoding="utf-8")
    single = re.search(r"^- Single label: .*?(?=^- )", guide, re.MULTILINE | re.DOTALL).group()
    assert "add a note" not in single
    assert re.search(r"notes .* live in the shipped `curated\.jsonl` alone", " ".join(single.split()))


def test_candidates_are_never_written_into_the_repository(shared_data, tmp_path) -> None:
    """They hold PubMed titles and abstracts, which the project does not copy."""
    script = REPO / "classifier" / "labels" / "select_candidates.py"
    inside = script.parent / "candidates.jsonl"
    refused = subprocess.run([sys.executable, str(script), "--data", str(shared_data), "--out", str(inside)],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "is inside the repository" in refused.stderr and not inside.exists()
    outside = tmp_path / "candidates.jsonl"
    written = subprocess.run([sys.executable, str(script), "--data", str(shared_data), "--out", str(outside), "--sample", "5"],
                             capture_output=True, text=True, timeout=120, cwd=REPO)
    assert written.returncode == 0, written.stderr
    assert len(outside.read_text(encoding="utf-8").splitlines()) == 5
