"""Tables and lines for people (rich) print the data as it is: '[tiab]' or '[smtp]' is text, not markup."""

from __future__ import annotations

from click.testing import CliRunner

from corpus.runs import finish_run, start_run
from corpus.store import Store
from oihwatch.cli import cli
from oihwatch.config import default_config_text, load_settings
from reports.period import moment_text


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


def test_piped_tables_and_lines_keep_whole_values(tmp_path):
    """Cron mail, a log or '| less' is not a terminal: no timestamp, address or warning is cut to fit 80 columns."""
    path = tmp_path / "config.toml"
    address = "pain-clinic-and-perioperative-anaesthesia@hospital.clinic.example.org"
    path.write_text(default_config_text("ops@example.org") + f'\n[[recipients]]\nemail = "{address}"\ntopics = ["tapering"]\n',
                    encoding="utf-8")
    error = "cannot connect to the SMTP server mail.clinic.example.org:587 (connection refused): check [smtp] host, port and security"
    with Store(tmp_path / "oihwatch.db") as store:
        run = start_run(store, "digest")
        finish_run(store, run, "failed", error=error)
        started = store.db.execute("SELECT started FROM runs WHERE id = ?", (run,)).fetchone()[0]
    runner = CliRunner()
    shown = runner.invoke(cli, ["-c", str(path), "config", "show"], env={"COLUMNS": None})
    assert shown.exit_code == 0, shown.output
    assert any(line.startswith("│ recipients ") and f" {address} " in line and " tapering " in line
               for line in shown.stdout.splitlines()), shown.stdout
    status = runner.invoke(cli, ["-c", str(path), "status"], env={"COLUMNS": None})
    assert status.exit_code == 0, status.output
    shown_at = moment_text(started, load_settings(path, {}).schedule.timezone)  # in the schedule's zone, labelled
    assert any(line.startswith("│ digest ") and f" {shown_at} " in line and error in line for line in status.stdout.splitlines())
    assert f"\nwarning: last digest failed (started {shown_at}): {error}\n" in status.stdout
