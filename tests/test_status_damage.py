"""``oihwatch status`` on a damaged corpus file: it says so, as every pass that fails on it does."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
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


def damage(database, how: str) -> None:
    """Cut the file short after a checkpoint, where its schema's last page begins (a copy or a disk that
    stopped midway: SQLite cannot open it), or overwrite the index status counts tags with (it opens, and
    status's own query meets the damage)."""
    with sqlite3.connect(database) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        (schema_end,) = db.execute("SELECT MAX(pageno) FROM dbstat WHERE name = 'sqlite_schema'").fetchone()
        pages = [row[0] for row in db.execute("SELECT pageno FROM dbstat WHERE name = 'tags_topic_assigned'")]
    db.close()
    with open(database, "r+b") as file:
        if how == "cut short":
            file.truncate((schema_end - 1) * page_size)
        for page in pages if how == "tags damaged" else []:
            file.seek((page - 1) * page_size)
            file.write(b"\xff" * page_size)


@pytest.mark.parametrize("how", ["cut short", "tags damaged"])
def test_status_on_a_corpus_it_cannot_read_says_what_it_can_with_the_damage_first(tmp_path, research_store_path, how):
    """Not one line of error: the damage as the first warning and as integrity in --json, as on damaged pages
    status does not read, with what the config and the model say; what only the corpus could say is null."""
    database = tmp_path / "corpus.db"
    shutil.copy(research_store_path, database)
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\npath = "{database}"\n[ncbi]\nemail = "t@example.org"\n', encoding="utf-8")
    damage(database, how)

    result = CliRunner().invoke(cli, ["-c", str(config), "status", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["integrity"].startswith(f"the corpus database {database} is corrupt (") and "restore it from a backup" in info["integrity"]
    assert info["warnings"][0] == info["integrity"] and "no trained model" in " ".join(info["warnings"])
    assert (info["records"], info["last_runs"], info["digests"]) == (None, None, None)
    assert set(info["next_runs"]) == {"harvest", "digest"}
    text = CliRunner().invoke(cli, ["-c", str(config), "status"])
    assert text.exit_code == 0, text.output
    assert text.stdout.startswith(f"corpus {database}: cannot be read (see the first warning)\n")
    assert f"warning: {info['integrity']}" in " ".join(text.stdout.split())
