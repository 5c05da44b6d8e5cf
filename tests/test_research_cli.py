"""``search``, ``export`` and ``stats`` on the command line: what they refuse to write, bad numbers, and filters in any letter case."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from corpus.exports import WRITERS
from corpus.store import Store
from oihwatch.cli import cli


@pytest.fixture
def home(tmp_path: Path, research_store_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding a copy of the research corpus, its config (naming it relatively) and a model file."""
    with Store(research_store_path) as source:
        source.db.execute("VACUUM INTO ?", (str(tmp_path / "oihwatch.db"),))
    Store(tmp_path / "oihwatch.db").close()  # in WAL mode, as the commands leave it, so its bytes stay put
    (tmp_path / "config.toml").write_text('[database]\npath = "oihwatch.db"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "model.pkl").write_bytes(b"a model")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, ["-c", "config.toml", *args])


def kept_files(home: Path) -> dict[str, bytes]:
    return {name: (home / name).read_bytes() for name in ("oihwatch.db", "config.toml", "models/model.pkl")}


@pytest.mark.parametrize("output", [
    "oihwatch.db", "./models/../oihwatch.db", "oihwatch.db-wal", "oihwatch.db-shm", "oihwatch.db.lock",
    "config.toml", "models/model.pkl", "models/new.png", "link.db",
])  # fmt: skip
@pytest.mark.parametrize("command", [["export", "--format", "csv", "-o"], ["stats", "--plot"]])
def test_an_output_over_our_own_files_is_refused(home: Path, command: list[str], output: str) -> None:
    (home / "link.db").symlink_to(home / "oihwatch.db")
    before = kept_files(home)
    result = run(*command, output)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"Error: will not write {Path(output)}: it is") and result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert kept_files(home) == before and not list(home.rglob("*.part")) and not (home / "models" / "new.png").exists()


def test_the_real_file_of_a_linked_database_is_refused_too(home: Path) -> None:
    (home / "linked.db").symlink_to(home / "oihwatch.db")
    (home / "config.toml").write_text('[database]\npath = "linked.db"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    for output in ("oihwatch.db", "oihwatch.db-wal"):
        result = run("export", "-o", output)
        assert result.exit_code == 1 and "it is" in result.stderr, result.output


def test_an_ordinary_file_is_still_replaced(home: Path) -> None:
    (home / "out.csv").write_text("old", encoding="utf-8")
    (home / "trend.png").write_bytes(b"old")
    assert run("export", "--format", "csv", "-o", "out.csv").exit_code == 0
    assert run("stats", "--plot", "trend.png").exit_code == 0
    assert (home / "out.csv").read_text(encoding="utf-8").startswith("pmid")
    assert (home / "trend.png").read_bytes().startswith(b"\x89PNG")


def test_a_link_keeps_pointing_at_its_file_and_a_replaced_file_keeps_its_permissions(home: Path) -> None:
    """A reference-manager folder linked into the home stays linked; a private export stays private."""
    (home / "library").mkdir()
    (home / "library" / "oih.ris").write_text("old", encoding="utf-8")
    (home / "oih.ris").symlink_to(home / "library" / "oih.ris")
    (home / "private.csv").write_text("old", encoding="utf-8")
    (home / "private.csv").chmod(0o600)
    assert run("export", "--format", "ris", "-o", "oih.ris").exit_code == 0
    assert run("export", "--format", "csv", "-o", "private.csv").exit_code == 0
    assert (home / "oih.ris").is_symlink() and (home / "library" / "oih.ris").read_text(encoding="utf-8").startswith("TY  - ")
    assert stat.S_IMODE((home / "private.csv").stat().st_mode) == 0o600
    assert not list(home.rglob("*.part"))


def test_a_pipe_is_written_into_not_replaced_by_a_file(home: Path) -> None:
    """A FIFO (or a device: /dev/null, /dev/stdout) has nothing to replace; renaming a file over it broke
    the reader, and as root over /dev/null, the machine's null device."""
    fifo = home / "records.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    try:
        result = run("export", "-o", str(fifo))
    finally:
        if reader.is_alive():  # a write that never opened the pipe: let the reader go
            with open(fifo, "wb"):
                pass
        reader.join(10)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received and received[0].decode("utf-8").count("\n") > 10


def test_dev_stdout_names_the_pipe_the_output_goes_to(home: Path) -> None:
    """/dev/stdout is a link to the process's own pipe, which has no folder to write beside it. A link of
    the same kind in the test's folder stands in for it: as root, the old code replaced the link itself."""
    (home / "stdout").symlink_to("/proc/self/fd/1")
    piped = subprocess.run([sys.executable, "-c", "from oihwatch.cli import main; main()", "-c", "config.toml", "export",
                            "--format", "csv", "-o", "stdout"], capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("pmid,title,") and piped.stderr.startswith("exported ")


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_an_output_naming_stdout_appends_where_the_shell_appends(home: Path, name: str) -> None:
    """'export -o /dev/stdout >> app.log': the records go after the log's earlier lines, which a file
    written beside the log and renamed over it replaced."""
    log = home / "app.log"
    log.write_text("earlier line\n", encoding="utf-8")
    with open(log, "a", encoding="utf-8") as appended:
        done = subprocess.run([sys.executable, "-c", "from oihwatch.cli import main; main()", "-c", "config.toml", "export",
                               "--format", "csv", "-o", name], stdout=appended, stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "earlier line" and lines[1].startswith("pmid,title,") and len(lines) > 10


def test_a_file_named_like_the_partial_one_is_left_alone(home: Path) -> None:
    (home / "out.csv.part").write_text("a file of the user's", encoding="utf-8")
    assert run("export", "--format", "csv", "-o", "out.csv").exit_code == 0
    assert (home / "out.csv.part").read_text(encoding="utf-8") == "a file of the user's"
    assert (home / "out.csv").read_text(encoding="utf-8").startswith("pmid")


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_an_export_gets_the_permissions_of_a_file_created_normally(home: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        assert run("export", "-o", "out.jsonl").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((home / "out.jsonl").stat().st_mode) == 0o666 & ~umask


def test_a_write_that_fails_midway_keeps_the_old_file_and_leaves_no_partial_one(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "out.csv").write_text("old", encoding="utf-8")
    before = sorted(home.iterdir())

    def disk_full(records, out) -> int:
        out.write("pmid,title\n")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setitem(WRITERS, "csv", disk_full)
    result = run("export", "--format", "csv", "-o", "out.csv")
    assert result.exit_code == 1, result.output
    assert result.stderr == "Error: cannot write out.csv: the disk is full; free space and run it again\n"  # not 'check the folder
    assert sorted(home.iterdir()) == before and (home / "out.csv").read_text(encoding="utf-8") == "old"


def test_a_plot_in_a_missing_folder_is_one_line_before_any_table(home: Path) -> None:
    result = run("stats", "--plot", str(home / "missing" / "t.png"))
    assert result.exit_code == 1, result.output
    said = f"Error: cannot write {home / 'missing' / 't.png'}: No such file or directory; check the folder exists"
    assert result.stderr.startswith(said) and result.stderr.count("\n") == 1
    assert result.stdout == ""


@pytest.mark.parametrize("option", ["--limit", "--since", "--until"])
def test_a_number_sqlite_cannot_hold_is_a_usage_error(home: Path, option: str) -> None:
    result = run("search", "ketamine", option, "99999999999999999999")
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.stderr and "Traceback" not in result.output


def test_topic_and_study_type_filters_take_any_letter_case(research_cli) -> None:
    """As the web view's saved search does: 'Ketamine' is the topic ketamine, 'RCT' the study type rct."""
    for command in (["search", "the OR opioid", "--format", "csv"], ["export", "--format", "csv"]):
        for option, exact, typed in (("--topic", "ketamine", " Ketamine"), ("--study-type", "rct", "RCT")):
            expected = research_cli(*command, option, exact)
            assert expected.exit_code == 0 and expected.stdout.count("\n") > 1, expected.output
            assert research_cli(*command, option, typed).stdout == expected.stdout
    wrong = research_cli("search", "ketamine", "--topic", "Ketamin")
    assert wrong.exit_code == 2 and "\nError: unknown topic 'Ketamin'; valid topics: " in wrong.stderr, wrong.output
    wrong = research_cli("export", "--study-type", "RCTs")
    assert wrong.exit_code == 2 and "\nError: unknown study type 'RCTs'; valid study types: meta_analysis, " in wrong.stderr, wrong.output


def test_a_topic_filter_takes_the_label_the_digest_and_web_view_show(home: Path) -> None:
    """A reader who sees 'Tapering and discontinuation' in the digest filters by those words, as `label` takes them."""
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write('[topics.tapering]\nlabel = "Tapering and discontinuation"\nkeywords = ["taper"]\n')
    for command in (["search", "the OR opioid", "--format", "csv"], ["export", "--format", "csv"]):
        expected = run(*command, "--topic", "tapering")
        assert expected.exit_code == 0 and expected.stdout.count("\n") > 1, expected.output
        assert run(*command, "--topic", "tapering and Discontinuation").stdout == expected.stdout


def test_a_topic_stored_under_an_old_spelling_gives_way_to_the_configs(home: Path) -> None:
    """A topic renamed from 'Ketamine' to 'ketamine' leaves the old spelling in stored tags until classify:
    --topic KETAMINE means the configured topic, not whichever spelling came last."""
    with (home / "config.toml").open("a", encoding="utf-8") as config:
        config.write('[topics.ketamine]\nlabel = "Ketamine"\nkeywords = ["ketamin"]\n')
    with Store(home / "oihwatch.db") as store, store.db:
        pmid = store.db.execute("SELECT pmid FROM tags WHERE topic = 'ketamine' AND assigned = 1").fetchone()[0]
        store.db.execute("DELETE FROM tags WHERE topic = 'ketamine' AND pmid != ?", (pmid,))
        old = store.db.execute("SELECT pmid FROM articles WHERE pmid != ? LIMIT 1", (pmid,)).fetchone()[0]
        store.db.execute("INSERT INTO tags (pmid, topic, score, assigned, source, updated) "
                         "VALUES (?, 'Ketamine', 1.0, 1, 'model', '2026-01-01')", (old,))
    configured = run("export", "--format", "csv", "--topic", "ketamine")
    typed = run("export", "--format", "csv", "--topic", "KETAMINE")
    assert configured.exit_code == typed.exit_code == 0, typed.output
    assert typed.stdout == configured.stdout and configured.stdout.count("\n") == 2  # the header and the one record
    assert f"{pmid}," in configured.stdout


def test_a_piped_search_table_keeps_each_title_whole_on_one_line(home: Path) -> None:
    """A search saved to a file or grepped is not a terminal: no title is wrapped to fit 80 columns, the journal
    column stays, and no line is padded beyond the table's own width."""
    records = json.loads(run("search", "ketamine", "--limit", "5", "--format", "json").stdout)
    shown = CliRunner().invoke(cli, ["-c", "config.toml", "search", "ketamine", "--limit", "5"], env={"COLUMNS": None})
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert "journal" in lines[1] and len({len(line) for line in lines}) == 1
    for record in records:
        assert any(record["pmid"] in line and record["title"] in line for line in lines), record["title"]
    longest = max((record["title"] for record in records), key=len)
    assert any(f"│ {longest} │" in line for line in lines)  # the title column is as wide as its longest title, no wider


def test_a_piped_stats_table_names_every_topic_whole(home: Path) -> None:
    """With more topics than fit 80 columns, 'stats > counts.txt' still says which column is which topic."""
    topics = ["buprenorphine_rotation", "dexmedetomidine", "gabapentinoids", "perioperative_remifentanil", "methadone_switch"]
    with Store(home / "oihwatch.db") as store, store.db:
        pmids = [row[0] for row in store.db.execute("SELECT pmid FROM articles WHERE year IS NULL AND retracted = 0 LIMIT 2")]
        store.db.executemany("INSERT INTO tags (pmid, topic, score, assigned, source, updated) VALUES (?, ?, 0.9, 1, 'model', '2026-01-01')",
                             [(pmid, topic) for pmid in pmids for topic in topics])
    shown = CliRunner().invoke(cli, ["-c", "config.toml", "stats"], env={"COLUMNS": None})
    assert shown.exit_code == 0, shown.output
    header = next(line for line in shown.stdout.splitlines() if line.startswith("┃ year "))
    unknown = next(line for line in shown.stdout.splitlines() if "unknown year" in line)
    counts = dict(zip((cell.strip() for cell in header.split("┃")), (cell.strip() for cell in unknown.split("│"))))
    assert {topic: counts.get(topic) for topic in topics} == dict.fromkeys(topics, "2"), shown.stdout


@pytest.mark.parametrize("width", [40, 50, 60, 80, 120])
def test_a_narrow_terminal_keeps_titles_readable_and_topics_whole(home: Path, width: int) -> None:
    """Columns that matter less make way for the title (or the table for a block per record): no title is
    squeezed to a letter a line, no topic name is cut, and no line is wider than the terminal."""
    records = json.loads(run("search", "ketamine OR tapering", "--limit", "8", "--format", "json").stdout)
    assert any(len(record["topics"]) > 1 for record in records)
    terminal = {"TTY_COMPATIBLE": "1", "COLUMNS": str(width), "NO_COLOR": "1"}  # rich's terminal, of that width
    shown = CliRunner().invoke(cli, ["-c", "config.toml", "search", "ketamine OR tapering", "--limit", "8"], env=terminal)
    assert shown.exit_code == 0, shown.output
    text = click.unstyle(shown.stdout)
    assert max(cell_len(line) for line in text.splitlines()) <= width
    words = set(re.split(r"[\s│┃]+", text))
    for record in records:
        assert record["pmid"] in words and set(record["topics"]) <= words, record
        assert set(record["title"].split()) <= words, record["title"]


@pytest.mark.parametrize("command", [["search", "ketamine"], ["export"]])
@pytest.mark.parametrize("option, date", [("--since", "2015-01-01"), ("--until", "2003-12-31")])
def test_a_date_for_a_year_says_these_take_a_year(home: Path, command: list[str], option: str, date: str) -> None:
    """harvest and digest take a date for --since and --until; search and export a publication year."""
    result = run(*command, option, date)
    assert result.exit_code == 2, result.output
    said = f"Error: Invalid value for '{option}': '{date}' is not a year; {command[0]} filters by publication year: write e.g. {option} 2015\n"
    assert result.stderr.endswith(said) and result.stderr.count("Error") == 1 and result.stdout == ""
    assert run(*command, option, date[:4]).exit_code == 0


@pytest.mark.parametrize("args, said", [
    (["search", "ketamine", "--since", "2010", "--until", "2000"], "--since 2010 is after --until 2000; swap them"),
    (["export", "--since", "2010", "--until", "2000"], "--since 2010 is after --until 2000; swap them"),
    (["search", "ketamine", "--topic", "nope"], "unknown topic 'nope'; valid topics: genetics, ketamine, non_opioid, tapering"),
    (["export", "--study-type", "nope"], "unknown study type 'nope'; valid study types: meta_analysis, systematic_review, rct, "),
    (["search", "ketamine", "--min-score", "2"], "--min-score 2.0 is not a probability; give a number from 0 to 1"),
    (["export", "--min-relevance", "-1"], "--min-relevance -1.0 is not a probability; give a number from 0 to 1"),
    (["stats", "--min-relevance", "5"], "--min-relevance 5.0 is not a probability; give a number from 0 to 1"),
])  # fmt: skip
def test_a_filter_that_cannot_match_is_a_usage_error(home: Path, args: list[str], said: str) -> None:
    """A bad option value is a usage error (exit 2), as '--limit 0' is, not a failure (exit 1): scripts tell them apart."""
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Usage: cli {args[0]} [OPTIONS]") and f"\nError: {said}" in result.stderr
    assert result.stderr.count("Error") == 1 and result.stdout == ""


def test_search_and_export_take_json_as_the_other_commands_do_and_export_points_json_to_jsonl(home: Path) -> None:
    """stats, status, evaluate and config show take --json: search takes it too, for its --format json, and
    export for its JSON, --format jsonl."""
    as_format = run("search", "ketamine", "--format", "json")
    as_flag = run("search", "ketamine", "--json")
    assert as_flag.exit_code == as_format.exit_code == 0, as_flag.output
    assert as_flag.stdout == as_format.stdout and json.loads(as_flag.stdout)
    assert "--json" in run("search", "--help").stdout
    export = run("export", "--format", "json")
    assert export.exit_code == 2 and export.stdout == ""
    assert export.stderr.endswith("Error: Invalid value for '--format': 'json' is not one of 'jsonl', 'csv', 'ris', 'bibtex'; "
                                  "for JSON write --format jsonl (JSON Lines: one record a line)\n"), export.stderr
    as_flag, as_format = run("export", "--topic", "ketamine", "--json"), run("export", "--topic", "ketamine", "--format", "jsonl")
    assert as_flag.exit_code == as_format.exit_code == 0, as_flag.output
    assert as_flag.stdout == as_format.stdout and json.loads(as_flag.stdout.splitlines()[0])
