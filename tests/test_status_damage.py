"""``oihwatch status`` on a damaged corpus file: it says so, as every pass that fails on it does."""

from __future__ import annotations

import json
import shutil
import sqlite3

from click.testing import CliRunner

from oihwatch.cli import cli


def test_status_reports_a_damaged_corpus_that_its_other_counts_never_read(tmp_path, research_store_path):
    """The damage is where status's own queries never look (the full-text index's copy of the
    records), as it was for the passes that failed at their integrity check while status said all was well."""
    database = tmp_path / "corpus.db"
    shutil.copy(research_store_path, database)
    with sqlite3.connect(database) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        (root,) = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'articles_fts_content'").fetchone()
    db.close()
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{database}"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    assert json.loads(CliRunner().invoke(cli, ["-c", str(config), "status", "--json"]).stdout)["integrity"] == "ok"
    with open(database, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)

    result = CliRunner().invoke(cli, ["-c", str(config), "status", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["records"] > 1000  # status read the rest as usual
    assert info["integrity"].startswith(f"the corpus database {database} is corrupt (") and "restore it from a backup" in info["integrity"]
    assert info["warnings"][0] == info["integrity"]
    text = CliRunner().invoke(cli, ["-c", str(config), "status"])
    assert text.exit_code == 0 and f"warning: the corpus database {database} is corrupt" in " ".join(text.stdout.split())
