"""Every command explains itself: --help ends with an example, and README's command list names it."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from oihwatch.cli import cli
from conftest import REPO


def leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command under ``group``, as a user reaches it (the top group loads its commands lazily)."""
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        path = (*prefix, name)
        found += leaf_commands(command, path) if isinstance(command, click.Group) else [path]
    return found


COMMANDS = leaf_commands(cli)


def test_every_command_is_found():
    assert len(COMMANDS) == 17 and ("config", "show") in COMMANDS and ("search",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_ends_with_an_example(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    example = result.output.split("Example:")[1]
    assert re.search(rf"oihwatch (-c \S+ )?{' '.join(path)}\b", example), example


def test_readme_lists_every_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    listing = readme.split("## Command line")[1].split("##")[0]
    for path in COMMANDS:
        assert path[-1] in listing, f"{' '.join(path)} missing from README's command list"
