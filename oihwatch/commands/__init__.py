"""The CLI commands, one module per area. ``COMMANDS`` names where each lives, so ``oihwatch.cli``
imports only the module of the command that runs: scikit-learn and matplotlib take a second to
import, which ``search`` or ``status`` need not wait for."""

COMMANDS = {
    "init": "setup:init",
    "config": "setup:config_group",
    "ingest": "ingest:ingest",
    "search": "research:search_command",
    "export": "research:export_command",
    "stats": "research:stats_command",
    "serve": "research:serve_command",
    "digest": "digest:digest",
    "harvest": "harvest:harvest",
    "train": "classify:train",
    "classify": "classify:classify",
    "evaluate": "classify:evaluate",
    "explain": "classify:explain",
    "label": "classify:label",
    "labels": "classify:labels_command",
    "run": "unattended:run",
    "schedule": "unattended:schedule",
    "status": "ops:status",
}
