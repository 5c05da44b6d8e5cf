"""docs/operations.md against the real CLI: the command lines an operator copies run as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.store import Store
from oihwatch.cli import cli
from read_only import read_only
from test_store import article

DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
TEXT = DOC.read_text(encoding="utf-8")

# The placeholders the page writes in command lines, and a value of the kind each stands for.
PLACEHOLDERS = {"D": "2026-01-05", "NAME": "oih", "DIR": "/tmp/preview", "PMID": "38011560", "TOPIC": "oih"}


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", TEXT, flags=re.S | re.M)


def command_lines() -> list[list[str]]:
    """Every oihwatch command line of the page: in `code`, in a crontab or a unit's ExecStart, up to
    a shell operator; the program itself left out."""
    lines = re.findall(r"`(?:sudo )?((?:\S*/)?oihwatch(?: [^`]*)?)`", TEXT)
    lines += [line.split("=", 1)[1] for block in code_blocks("ini") for line in block.splitlines()
              if line.startswith("ExecStart=")]
    lines += [line for block in code_blocks("cron") for line in block.splitlines() if "oihwatch " in line]
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True)
        start = next(i for i, word in enumerate(words) if word.rsplit("/", 1)[-1] == "oihwatch")
        argv = []
        for word in words[start + 1:]:
            if word in (">>", ">", "||", "|", "&&", ";", "2>&1"):
                break
            argv.append(PLACEHOLDERS.get(word, word))
        if argv:  # not the program's name alone
            commands.append(argv)
    return commands


def cron_commands() -> list[str]:
    """The command field of every job line of the page's crontabs (not a variable, not a comment)."""
    return [line.split(None, 5)[5] for block in code_blocks("cron") for line in block.splitlines()
            if line.strip() and not line.startswith("#") and not re.match(r"^[A-Z_]+=", line)]


@pytest.mark.parametrize("argv", command_lines(), ids=" ".join)
def test_every_command_line_is_one_the_cli_takes(argv):
    """Its command, subcommand and options exist, with their values: --help, given last, is taken
    only once the rest has parsed."""
    result = CliRunner().invoke(cli, [*argv, "--help"])
    assert result.exit_code == 0, result.output


def test_the_page_shows_the_command_lines_an_operator_copies():
    assert {tuple(argv[:1]) for argv in command_lines()} >= {("status",), ("run",), ("-c",), ("schedule",), ("harvest",)}


def test_every_crontab_line_names_oihwatch_by_its_full_path():
    """Cron runs a job with PATH=/usr/bin:/bin, where the venv's oihwatch is not."""
    commands = cron_commands()
    assert commands and all(command.startswith("/srv/oihwatch/.venv/bin/oihwatch ") for command in commands), commands


def test_the_preview_in_a_read_only_folder_needs_outbox_as_the_page_says(tmp_path):
    folder = tmp_path / "srv"
    with Store(folder / "oihwatch.db") as store:
        store.upsert_articles([article("1")])
    config = folder / "config.toml"
    config.write_text('[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    with read_only(folder):
        plain = CliRunner().invoke(cli, ["-c", str(config), "digest"])
        elsewhere = CliRunner().invoke(cli, ["-c", str(config), "digest", "--outbox", str(tmp_path / "preview")])
    assert plain.exit_code == 1 and plain.stderr.startswith(f"Error: cannot write the preview to {folder / 'outbox'}")
    assert elsewhere.exit_code == 0, elsewhere.output
    item = next(item for item in TEXT.split("\n- ") if item.startswith("A read-only database folder"))
    assert "`--outbox DIR`" in item and "`Error: cannot write the preview to …`" in item
