"""``oihwatch init`` and ``oihwatch config show``: start from, and inspect, a configuration."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from corpus.errors import ConfigError, no_room
from oihwatch.app import App
from oihwatch.cli import console_for_people
from oihwatch.config import default_config_text, describe_settings
from reports.address import parse_address
from reports.delivery import write_atomically


@click.command()
@click.option("--email", metavar="ADDR", help="your address, sent to NCBI with every request")
@click.option("--force", is_flag=True, help="overwrite an existing config file")
@click.pass_obj
def init(app: App, email: str | None, force: bool) -> None:
    """Write a commented config.toml to start from.

    \b
    Example:
        oihwatch init --email you@example.org
    """
    path = app.config_file
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; edit it, or pass --force to overwrite it")
    if email:
        try:
            email = parse_address(email, display_name=False).addr_spec  # the check [ncbi] email gets on loading
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--email") from None
    try:  # a full disk or a size limit midway must leave no file, or the previous one, not half of one
        write_atomically(path, default_config_text(email).encode("utf-8"))
    except OSError as exc:
        why = no_room(exc.errno) or f"{exc.strerror}; pick a folder you may write to with -c FILE"
        raise ConfigError(f"cannot write {path}: {why}") from None
    click.echo(f"wrote {path}" + ("" if email else "; set ncbi.email in it before harvesting"))


@click.group("config")
def config_group() -> None:
    """Inspect the configuration.

    \b
    Example:
        oihwatch config show --json
    """


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="print as JSON")
@click.pass_obj
def config_show(app: App, as_json: bool) -> None:
    """Print every setting in force (file, environment and defaults merged; secrets masked).

    \b
    Example:
        OIHWATCH_DATABASE_PATH=/srv/oih.db oihwatch config show
    """
    rows = describe_settings(app.settings)
    if as_json:
        click.echo(json.dumps([{"key": k, "value": v, "meaning": m} for k, v, m in rows], indent=2))
        return
    table = Table("setting", "value", "meaning", title=f"{app.config_file}")
    for key, value, meaning in rows:
        shown = "(not set)" if value is None else value if isinstance(value, str) else json.dumps(value)
        table.add_row(key, escape(shown), escape(meaning))  # a PubMed term's [tiab] is not markup
    console_for_people().print(table)
