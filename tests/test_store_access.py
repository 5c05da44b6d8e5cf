"""How commands reach the corpus: only those that bring records in start one; read-only
folders and damaged files are one-line errors (or, for reading, no error at all); a run
killed mid-step shows as interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.runs import last_runs, start_run
from corpus.store import Store
from oihwatch.app import App
from oihwatch.cli import cli
from oihwatch.commands.unattended import run_job
from oihwatch.config import default_config_text
from oihwatch.lock import write_lock
from read_only import read_only
from test_store import article, damaged_store, foreign_database


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"), encoding="utf-8")
    return path


def oihwatch(config: Path, *args: str, database: Path | None = None):
    env = {"OIHWATCH_DATABASE_PATH": str(database)} if database else {}
    return CliRunner().invoke(cli, ["-c", str(config), *args], env=env)


# explain, classify and evaluate need a model first, and say so before they look for a corpus.
NOT_STARTING = [["status"], ["search", "pain"], ["export"], ["stats"], ["digest"],
                ["label", "1", "oih"], ["digest", "--send"]]


@pytest.mark.parametrize("args", NOT_STARTING, ids=" ".join)
def test_commands_that_bring_no_records_never_start_a_corpus(config, tmp_path, args):
    database = tmp_path / "nodir" / "sub" / "x.db"
    result = oihwatch(config, *args, database=database)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: no database at {database} (run 'oihwatch run', 'oihwatch harvest' or 'oihwatch ingest' first, or check database.path)"
    ]
    assert not (tmp_path / "nodir").exists()


def test_ingest_starts_a_corpus_in_a_new_folder(config, tmp_path, shared_data):
    database = tmp_path / "new" / "x.db"
    result = oihwatch(config, "ingest", str(shared_data / "pubmed-xml/metapub/38011560.xml"), database=database)
    assert result.exit_code == 0, result.stderr
    assert database.is_file()


def test_status_under_a_missing_folder_in_a_read_only_one_is_no_database(config, tmp_path):
    (tmp_path / "corpus").mkdir()
    with read_only(tmp_path / "corpus") as view:
        result = oihwatch(config, "status", database=view / "new" / "x.db")
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: no database at {view / 'new' / 'x.db'} (")


def test_reading_works_in_a_read_only_folder_and_writing_says_why_not(config, tmp_path):
    folder = tmp_path / "corpus"
    with Store(folder / "oihwatch.db") as store:
        store.upsert_articles([article("1", title="Ketamine against hyperalgesia")])
    with read_only(folder) as view:
        status = oihwatch(config, "status", "--json", database=view / "oihwatch.db")
        search = oihwatch(config, "search", "ketamine", "--format", "json", database=view / "oihwatch.db")
        run = oihwatch(config, "run", database=view / "oihwatch.db")
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["records"] == 1
    assert search.exit_code == 0 and [r["pmid"] for r in json.loads(search.stdout)] == ["1"]
    assert run.exit_code == 1 and run.stderr.count("\n") == 1
    assert run.stderr.startswith(f"Error: cannot create the lock file {view / 'oihwatch.db.lock'}: ")
    assert sorted(p.name for p in folder.iterdir()) == ["oihwatch.db"]


def test_a_damaged_corpus_is_reported_as_corrupt_whatever_reads_it(config, tmp_path):
    """(``status`` shows the damage as its first warning and goes on: tests/test_status_damage.py.)"""
    damaged_store(tmp_path / "oihwatch.db")
    for args in (["export"], ["search", "pain"]):
        result = oihwatch(config, *args)
        assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
        assert result.stderr.startswith(f"Error: the corpus database {tmp_path / 'oihwatch.db'} is corrupt (")
        assert result.stderr.endswith("); restore it from a backup\n")


@pytest.mark.parametrize("args", [["status"], ["search", "pain"], ["export"], ["run"], ["ingest", "records.ris"]], ids=" ".join)
def test_another_programs_database_in_database_path_is_refused_by_every_command(config, tmp_path, args, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("records.ris").write_text("TY  - JOUR\nAN  - 38011560\nTI  - Ketamine and hyperalgesia\nER  - \n", encoding="utf-8")
    database = tmp_path / "patients.db"
    before = foreign_database(database, "other tables")
    result = oihwatch(config, *args, database=database)
    assert result.exit_code == 1 and result.stderr == (
        f"Error: {database} is an SQLite database but not an oihwatch corpus; check database.path "
        "(the file was left as it was)\n"), result.output
    assert database.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "patients.db", "records.ris"]


def test_a_run_on_a_damaged_corpus_fails_before_its_steps_say_ok(config, tmp_path):
    """A harvest only appends: without a check, a run reports success for weeks on damaged pages."""
    damaged_store(tmp_path / "oihwatch.db")
    result = oihwatch(config, "run")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith(f"Error: the corpus database {tmp_path / 'oihwatch.db'} is corrupt (")
    assert "harvest" not in result.output


def test_a_scheduled_job_on_a_damaged_corpus_says_it_failed_not_skipped(config, tmp_path, capsys):
    damaged_store(tmp_path / "oihwatch.db")
    app = App(str(config), environ={})
    ran = []
    run_job(app, [("harvest", lambda: ran.append("harvest") or "ok")])
    app.close()
    said = capsys.readouterr().err
    assert ran == [] and said.startswith("job FAILED: the corpus database ") and "is corrupt" in said


KILLED_MID_HARVEST = textwrap.dedent(
    """
    import sys
    from oihwatch.app import App
    from corpus.runs import start_run
    app = App(sys.argv[1], environ={})
    with app.writing("harvest") as store:
        start_run(store, "harvest", "oih")
        print("harvesting", flush=True)
        sys.stdin.readline()
    """
)


def test_a_killed_run_shows_as_interrupted_and_the_next_writer_records_it(config, tmp_path):
    Store(tmp_path / "oihwatch.db").close()
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_HARVEST, str(config)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout.readline().strip() == "harvesting"

    def harvest_run():
        info = json.loads(oihwatch(config, "status", "--json").stdout)
        return next(r for r in info["last_runs"] if r["step"] == "harvest"), info["warnings"]

    assert harvest_run()[0]["status"] == "running"  # its process is alive and holds the lock
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    run, warnings = harvest_run()
    assert run["status"] == "interrupted" and "process stopped" in run["error"]
    assert any(w.startswith("last harvest oih interrupted") for w in warnings)
    with Store(tmp_path / "oihwatch.db") as store:
        assert last_runs(store)[("harvest", "oih")].status == "running"  # status only reads
    assert oihwatch(config, "label", "1", "oih").exit_code == 1  # a writer (the PMID is unknown, but it took the lock)
    with Store(tmp_path / "oihwatch.db") as store:
        assert last_runs(store)[("harvest", "oih")].status == "interrupted"


def test_a_run_of_the_holder_of_the_lock_stays_running(config, tmp_path):
    with Store(tmp_path / "oihwatch.db") as store:
        start_run(store, "classify")
    with write_lock(tmp_path / "oihwatch.db.lock", "classify"):
        info = json.loads(oihwatch(config, "status", "--json").stdout)
    assert [r["status"] for r in info["last_runs"]] == ["running"]
