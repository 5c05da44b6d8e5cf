"""The CLI commands, one module per area; ``oihwatch.cli`` registers ``COMMANDS``."""

from oihwatch.commands.digest import digest
from oihwatch.commands.ingest import ingest
from oihwatch.commands.setup import config_group, init

COMMANDS = [init, config_group, ingest, digest]
