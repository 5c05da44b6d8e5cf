"""The command line: a thin click layer over the library.

Domain errors (``OihwatchError``) become one ``Error: …`` line and exit 1 here, in
one place, and so does a damaged corpus file met while reading; click's usage errors
exit 2. Results go to stdout, logs to stderr.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
from typing import TYPE_CHECKING

import click

from corpus.errors import OihwatchError
from oihwatch import __version__
from oihwatch.app import App
from oihwatch.commands import COMMANDS

if TYPE_CHECKING:
    from rich.console import Console


# Wide enough that no value in a table is cut; a table is only as wide as what it holds.
PIPED_WIDTH = 100_000


def console_for_people(**options) -> Console:
    """rich output for a person: on a terminal, fitted to its width; piped or redirected (cron mail,
    a log, ``| less``), lines as long as their values, where rich would cut each table to 80 columns
    ('2026-11-27T12:1…') and wrap each line."""
    from rich.console import Console  # here: the commands that print no table need not import rich

    console = Console(**options)
    return console if console.is_terminal else Console(width=PIPED_WIDTH, **options)


class OihwatchGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The command, its module imported now (``COMMANDS``)."""
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(f"oihwatch.commands.{module}"), attribute)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OihwatchError as exc:
            # One line, whatever a library put in the message (lxml's errors carry newlines).
            raise click.ClickException(" ".join(str(exc).split())) from None
        except sqlite3.DatabaseError as exc:
            corrupt = ctx.obj.corruption(exc) if isinstance(ctx.obj, App) else None
            if corrupt is None:
                raise  # not the file's fault: a bug, whose traceback is wanted
            raise click.ClickException(" ".join(str(corrupt).split())) from None
        except KeyboardInterrupt:
            raise click.ClickException("interrupted; everything committed so far is kept") from None


@click.group(cls=OihwatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", "config", metavar="CONFIG", help="config file (default: $OIHWATCH_CONFIG, else ./config.toml)")
@click.option("-v", "--verbose", is_flag=True, help="log progress details to stderr")
@click.version_option(__version__, prog_name="oihwatch")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool) -> None:
    """Watch PubMed for opioid-induced hyperalgesia research, tag it, and e-mail a weekly digest.

    \b
    Example:
        oihwatch init --email you@example.org && oihwatch run
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # httpx logs full URLs at INFO, and NCBI's api_key is a URL parameter.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = App(config)
    ctx.obj = app
    ctx.call_on_close(app.close)


def main() -> None:
    cli(prog_name="oihwatch")
