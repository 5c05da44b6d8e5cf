"""``oihwatch init`` and ``oihwatch config show``: start from, and inspect, a configuration."""

from __future__ import annotations

import json
import re

import click
from rich.console import Console
from rich.table import Table

from corpus.errors import ConfigError
from oihwatch.app import App
from oihwatch.config import describe_settings, default_config_text


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
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise click.BadParameter(f"{email!r} is not an e-mail address", param_hint="--email")
    text = default_config_text(email)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}" + ("" if email else "; set ncbi.email in it before harvesting"))


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


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
        click.echo(json.dumps([{"key": k, "value": v} for k, v, _ in rows], indent=2))
        return
    table = Table("setting", "value", "meaning", title=f"{app.config_file}")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
