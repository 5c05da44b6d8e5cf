"""docs/labelling-guide.md asks of ``oihwatch label`` only what it records."""

from __future__ import annotations

import re

from click.testing import CliRunner

from conftest import REPO
from oihwatch.cli import cli


def test_the_guide_sends_notes_where_they_are_kept() -> None:
    """``label`` records a topic and --not, no note: a note asked for there would be lost."""
    options = set(re.findall(r"--[a-z][a-z-]*", CliRunner().invoke(cli, ["label", "--help"]).output)) - {"--help"}
    assert options == {"--not"}
    guide = (REPO / "docs" / "labelling-guide.md").read_text(encoding="utf-8")
    single = re.search(r"^- Single label: .*?(?=^- )", guide, re.MULTILINE | re.DOTALL).group()
    assert "add a note" not in single
    assert re.search(r"notes .* live in the shipped `curated\.jsonl` alone", " ".join(single.split()))
