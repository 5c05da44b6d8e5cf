"""``oihwatch ingest`` end to end: summary line on stdout, one-line errors, exit codes, nothing lost."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from corpus import Store
from oihwatch.cli import cli


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[ncbi]\nemail = "me@example.org"\n[database]\npath = "corpus.db"\n', encoding="utf-8")
    return path


def ingest(config, *files):
    return CliRunner().invoke(cli, ["-c", str(config), "ingest", *map(str, files)])


def test_ingest_prints_a_summary_and_is_idempotent(config, shared_data):
    files = [shared_data / "pubmed-xml/biopython/pubmed4.xml", shared_data / "medline/pubmed_result1.txt"]
    first = ingest(config, *files)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("2 file(s): ")
    assert " 0 unchanged" in first.stdout
    again = ingest(config, *files)
    assert again.exit_code == 0
    assert " 0 new, 0 updated," in again.stdout


def test_bad_file_before_a_good_one(config, shared_data, tmp_path):
    good = shared_data / "pubmed-xml/metapub/38011560.xml"
    assert ingest(config, good).exit_code == 0
    with Store(tmp_path / "corpus.db") as store:
        before = store.get_article("38011560")
    truncated = tmp_path / "cut.xml"
    truncated.write_bytes(good.read_bytes()[:3000])
    result = ingest(config, truncated, shared_data / "pubmed-xml/biopython/pubmed4.xml")
    assert result.exit_code == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1 and "cut.xml" in error_lines[0]
    [failed] = [line for line in result.stderr.splitlines() if not line.startswith("Error:")]
    assert failed.startswith(f"failed: {truncated}: ") and len(failed) > 80  # one line, however long, for a log
    assert "the other 1 file(s) were ingested" in error_lines[0]
    assert "2 file(s), 1 failed" in result.stdout
    with Store(tmp_path / "corpus.db") as store:
        assert store.get_article("38011560") == before
        assert store.count_articles() > 1


def test_missing_config_or_file_is_exit_1(config, tmp_path):
    result = ingest(config, tmp_path / "nope.xml")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "nope.xml" in result.stderr
    usage = CliRunner().invoke(cli, ["-c", str(config), "ingest"])
    assert usage.exit_code == 2


def test_help_names_every_format_it_reads():
    help_text = " ".join(CliRunner().invoke(cli, ["ingest", "--help"]).output.split())
    for name in ("PubMed XML", "MEDLINE", "RIS", "CSV", "JSON Lines"):
        assert name in help_text


def test_dash_reads_stdin_through_a_pipe_gzip_too(config, shared_data, tmp_path):
    """A pipe cannot seek: stdin is copied to the temp folder in blocks, read as a file, and removed."""
    xml = shared_data / "pubmed-xml/biopython/pubmed4.xml"
    temp = tmp_path / "temp"
    temp.mkdir()
    piped = subprocess.run(
        [sys.executable, "-c", "from oihwatch.cli import main; main()", "-c", str(config), "ingest", "-"],
        input=gzip.compress(xml.read_bytes()), capture_output=True, env={**os.environ, "TMPDIR": str(temp)}, timeout=120,
    )
    assert piped.returncode == 0, piped.stderr
    with Store(tmp_path / "corpus.db") as store:
        records = store.count_articles()
    assert records > 0
    assert piped.stdout.decode() == f"1 file(s): {records} read, {records} new, 0 updated, 0 unchanged, 0 skipped\n"
    assert list(temp.iterdir()) == []
    assert " 0 new, 0 updated," in ingest(config, xml).stdout  # the same records as the file's


def test_dash_among_files_is_named_stdin_in_what_is_said(config, shared_data):
    medline = (shared_data / "medline/pubmed_result1.txt").read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(config), "ingest", str(shared_data / "pubmed-xml/metapub/38011560.xml"), "-"],
                                input=medline)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2 file(s): ")
    [piped] = [line for line in medline.splitlines() if line.startswith("PMID- ")]
    with Store(config.parent / "corpus.db") as store:
        assert store.get_article(piped.removeprefix("PMID- ")).source == "stdin"  # not the temp copy's path
    bare = CliRunner().invoke(cli, ["-c", str(config), "ingest", "-"], input='{"pmid": "123"}\n')
    assert "skipped: stdin: PMID 123: nothing but the PMID" in bare.stderr.splitlines()
    unknown = CliRunner().invoke(cli, ["-c", str(config), "ingest", "-"], input="title,abstract\nA,B\n")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("Error: stdin: cannot tell the format; expected ") and unknown.stderr.count("\n") == 1
