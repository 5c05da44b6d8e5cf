"""Every command explains itself: --help gives an example, and README's command list names it with its options."""

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
    assert len(COMMANDS) == 18 and ("config", "show") in COMMANDS and ("search",) in COMMANDS and ("labels",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_gives_an_example(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    example = result.output.split("Example:")[1]
    assert re.search(rf"oihwatch (-c \S+ )?{' '.join(path)}\b", example), example


def readme_synopses() -> dict[tuple[str, ...], str]:
    """README's command list: each command's synopsis (the global options under ``()``), [FILTER]... spelled out.

    A line is synopses joined by `` | `` (one between options, `--relevant | --min-relevance P`, is
    kept), then three spaces or more and a description, which does not count.
    """
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Command line")[1].split("```")[1]
    commands, _, filters = block.partition("\nFILTER:")
    synopses = {}
    for line in commands.strip().splitlines():
        for entry in re.split(r" \| (?=[a-z])", re.split(r"\s{3,}", line.strip())[0]):
            named = [p for p in COMMANDS if re.match(rf"{' '.join(p)}\b", entry)]
            path = () if entry.startswith("oihwatch ") else max(named, key=len, default=None)
            assert path is not None, f"README's command list names no command here: {entry!r}"
            synopses[path] = entry.replace("[FILTER]...", filters)
    return synopses


def option_names(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", text))


def test_readme_lists_every_command():
    listed = readme_synopses()
    for path in COMMANDS:
        assert path in listed, f"{' '.join(path)} missing from README's command list"


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda path: " ".join(path) or "oihwatch")
def test_readme_lists_every_option_and_only_those(path):
    """Each option of a command is in its README synopsis, in one of its spellings, and nothing else is."""
    command = cli
    for name in path:
        command = command.get_command(click.Context(command), name)
    options = [p for p in command.params if isinstance(p, click.Option)]
    synopsis = readme_synopses()[path]
    named = option_names(synopsis)
    for option in options:
        assert named & {*option.opts, *option.secondary_opts}, f"README: {' '.join(path) or 'oihwatch'} lacks {option.opts[-1]}"
    known = {o for option in options for o in (*option.opts, *option.secondary_opts)}
    assert named <= known, f"README: {' '.join(path) or 'oihwatch'} has no {sorted(named - known)}"
