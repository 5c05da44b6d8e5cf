"""The CLI commands, one module per area; ``oihwatch.cli`` registers ``COMMANDS``."""

from oihwatch.commands.classify import classify, evaluate, explain, label, train
from oihwatch.commands.digest import digest
from oihwatch.commands.harvest import harvest
from oihwatch.commands.ingest import ingest
from oihwatch.commands.ops import run, schedule, status
from oihwatch.commands.research import export_command, search_command, serve_command, stats_command
from oihwatch.commands.setup import config_group, init

COMMANDS = [init, config_group, ingest, search_command, export_command, stats_command, serve_command, digest, harvest, train, classify, evaluate, explain, label, run, schedule, status]
