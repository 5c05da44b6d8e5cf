"""Tables and lines for people (rich) print the data as it is: '[tiab]' or '[smtp]' is text, not markup."""

from __future__ import annotations

from click.testing import CliRunner

from corpus.runs import finish_run, start_run
from corpus.store import Store
from oihwatch.cli import cli
from oihwatch.config import default_config_text, load_settings


def test_config_show_keeps_the_field_tags_of_a_pubmed_term(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    term = load_settings(path, {}).queries[0].term
    assert "[tiab]" in term
    shown = CliRunner().invoke(cli, ["-c", str(path), "config", "show"], env={"COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    assert "[tiab]" in shown.stdout and shown.stdout.count("[tiab]") == term.count("[tiab]")


def test_status_keeps_brackets_in_errors_and_warnings(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    with Store(tmp_path / "oihwatch.db") as store:
        run = start_run(store, "digest")
        finish_run(store, run, "failed", error="cannot connect: check [smtp] host, port and security")
    shown = CliRunner().invoke(cli, ["-c", str(path), "status"], env={"COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count("check [smtp] host") == 2  # in the table of runs and in the warning
