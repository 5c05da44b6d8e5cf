"""The command line: a thin click layer over the library.

Domain errors (``OihwatchError``) become one ``Error: …`` line and exit 1 here, in
one place, and so does a damaged corpus file met while reading, or a result that cannot
be written to stdout (a full disk); click's usage errors exit 2. Results go to stdout,
logs to stderr.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import logging
import sqlite3
import sys
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


class StdoutError(OSError):
    """A write to stdout that failed for a reason other than a closed pipe (a full disk, /dev/full)."""


class GuardedStdout:
    """``sys.stdout``, its failed writes raised as ``StdoutError``: an ``OSError`` met anywhere else is a
    bug whose traceback is wanted, while one from stdout is the disk it goes to, said in one line. A
    closed pipe (EPIPE) is raised as it was: click ends quietly on it. Once a write failed, flushing
    again (Python does at exit) stays quiet, as the failure was said already."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._failed = False

    def write(self, text: str) -> int:
        return self._guarded(self._stream.write, text)

    def writelines(self, lines) -> None:
        self._guarded(self._stream.writelines, lines)

    def flush(self) -> None:
        if self._failed:  # said already; what is left in the buffer cannot be written either
            with contextlib.suppress(OSError):
                self._stream.flush()
            return
        self._guarded(self._stream.flush)

    def _guarded(self, write, *args):
        try:
            return write(*args)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise
            self._failed = True
            raise StdoutError(exc.errno, exc.strerror) from exc

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


class OihwatchGroup(click.Group):
    def main(self, *args, **kwargs):
        """click's main, with stdout guarded and flushed before it returns: what is still buffered then
        fails here, said in one line, not in Python's exit ('Exception ignored ...', status 120)."""
        if sys.stdout is not None and not isinstance(sys.stdout, GuardedStdout):
            sys.stdout = GuardedStdout(sys.stdout)
        try:
            try:
                return super().main(*args, **kwargs)
            finally:
                if sys.stdout is not None:
                    sys.stdout.flush()  # after a closed pipe, click's wrapper, which ignores that
        except StdoutError as exc:
            error = click.ClickException(f"cannot write the output (stdout): {exc.strerror}; what was written is incomplete")
            if not kwargs.get("standalone_mode", True):
                raise error from None
            error.show()
            sys.exit(error.exit_code)

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
