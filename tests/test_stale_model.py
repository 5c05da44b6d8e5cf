"""A topic added, removed or with its rules changed after the model was trained: the stored tags were
made for the old topics. A new digest waits for a train and a classify (``digest --send``, the digest
step of a run and of the scheduler's digest job); a recorded one still goes out as it was; search,
export and stats say their tags are the old topics'. Real runs: a model trained by ``oihwatch train``
on real records, the CLI, .eml files in the outbox."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from corpus.errors import DeliveryError
from corpus.store import Store
from digest_support import created_on, real_articles
from oihwatch.app import App
from oihwatch.cli import cli
from oihwatch.config import default_config_text
from oihwatch.pipeline import digest_step

HEREDITY = """
[topics.heredity]
label = "Heredity"
keywords = ['\\bgenes?\\b', 'mutation', 'polymorphism']

[[recipients]]
email = "heredity@example.org"
topics = ["heredity"]
"""
# The three ways a config's topics come to differ from those the model was trained for.
CHANGES = {
    "added": lambda text: text + HEREDITY,
    "removed": lambda text: re.sub(r"^\[topics\.genetics\]\n.*?(?=^\[)", "", text, count=1, flags=re.S | re.M),
    "rules changed": lambda text: text.replace("'dizocilpine',", "'dizocilpine', 'lanicemine',", 1),
}
HELD = (r"the \d{4}-W\d\d digest is not recorded or sent: its papers' tags come from a model trained for other "
        r"topics or topic rules than those in the config, so a topic added or changed since would get the wrong "
        r"papers or none; run 'oihwatch train' and 'oihwatch classify', then send again")
NOTE = ("note: the tags shown come from a model trained for other topics or topic rules than those in the config; "
        "run 'oihwatch train' and 'oihwatch classify' to bring them up to date")


def oihwatch(config: Path, *args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(cli, ["-c", str(config), *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


@pytest.fixture(scope="module")
def trained(shared_data, tmp_path_factory) -> Path:
    """A folder as train and classify leave it: a model trained on 1,500 real records for the default
    topics, and twelve more real records PubMed created today, classified by it (the digest's news).
    No query: nothing to harvest, so no harvest failing holds the digest; every paper counts as relevant."""
    folder = tmp_path_factory.mktemp("trained")
    text = re.sub(r"^\[\[queries\]\]\n.*?(?=^\[harvest\])", "", default_config_text("ops@example.org"), flags=re.S | re.M)
    text = text.replace('relevance_threshold = "model"', "relevance_threshold = 0.0", 1)
    config = folder / "config.toml"
    config.write_text(text + '\n[[recipients]]\nemail = "all@example.org"\n', encoding="utf-8")
    training = folder / "training.jsonl"
    training.write_text("".join((shared_data / "corpus.jsonl").read_text(encoding="utf-8").splitlines(True)[:1500]))
    for step in (["ingest", str(training)], ["train"]):
        assert oihwatch(config, *step).exit_code == 0
    with Store(folder / "oihwatch.db", clock=lambda: datetime.now(timezone.utc)) as store:
        store.upsert_articles(created_on(real_articles(shared_data, 12), datetime.now(timezone.utc).date()))
    assert oihwatch(config, "classify").exit_code == 0
    return config


@pytest.fixture
def config(trained, tmp_path) -> Path:
    """A copy of the trained folder, to change its config."""
    shutil.copytree(trained.parent, tmp_path, dirs_exist_ok=True)
    return tmp_path / "config.toml"


def change(config: Path, how: str) -> None:
    text = config.read_text(encoding="utf-8")
    changed = CHANGES[how](text)
    assert changed != text
    config.write_text(changed, encoding="utf-8")


def digests_recorded(config: Path) -> int:
    with Store(config.parent / "oihwatch.db") as store:
        return store.db.execute("SELECT COUNT(*) FROM digests").fetchone()[0]


@pytest.mark.parametrize("how", CHANGES)
def test_a_digest_is_held_while_the_model_was_trained_for_other_topics(config, how):
    change(config, how)
    preview = oihwatch(config, "digest")
    assert preview.exit_code == 0
    assert re.fullmatch(f"nothing sent; --send would hold it back: {HELD}", preview.stdout.splitlines()[-1])
    sent = oihwatch(config, "digest", "--send")
    assert sent.exit_code == 1 and sent.stdout == ""
    assert re.fullmatch(f"Error: {HELD}\n", sent.stderr)
    assert digests_recorded(config) == 0 and not list((config.parent / "outbox").glob("*/*.eml"))
    status = json.loads(oihwatch(config, "status", "--json").stdout)
    assert any(re.fullmatch(HELD, warning) for warning in status["warnings"]), status["warnings"]


def test_records_waiting_for_classify_too_are_told_to_train_first(config, shared_data):
    change(config, "added")
    with Store(config.parent / "oihwatch.db", clock=lambda: datetime.now(timezone.utc)) as store:  # a harvest since
        store.upsert_articles(created_on(real_articles(shared_data, 13)[12:], datetime.now(timezone.utc).date()))
    preview = oihwatch(config, "digest")
    assert re.search(r"\(12 papers, 1 not classified yet\)", preview.stdout)
    assert re.fullmatch(f"nothing sent; --send would hold it back: {HELD}", preview.stdout.splitlines()[-1])
    assert re.fullmatch(f"Error: {HELD}\n", oihwatch(config, "digest", "--send").stderr)


def test_after_train_and_classify_a_new_topics_reader_gets_its_section(config):
    change(config, "added")
    assert oihwatch(config, "digest", "--send").exit_code == 1
    for step in ("train", "classify"):
        assert oihwatch(config, step).exit_code == 0
    sent = oihwatch(config, "digest", "--send")
    assert sent.exit_code == 0, sent.output
    (reader,) = (config.parent / "outbox").glob("*/heredity@example.org.eml")
    assert re.search(r"^HEREDITY \(\d+\)$", reader.read_text(encoding="utf-8"), re.M)


def test_the_digest_step_of_a_run_or_the_digest_job_holds_it_but_a_run_retrains_first(config, fake):
    change(config, "added")
    app = App(str(config), environ={})
    with app.writing("digest"), pytest.raises(DeliveryError, match=f"^{HELD}$"):
        digest_step(app, datetime.now(timezone.utc))  # the step alone, as after a classify step that failed
    app.close()
    assert digests_recorded(config) == 0
    with config.open("a", encoding="utf-8") as text:  # a query the loopback NCBI answers: nothing new since today
        text.write('\n[[queries]]\nname = "oih"\nterm = "hyperalgesia"\n')
    today = datetime.now(timezone.utc).date().isoformat()
    run = oihwatch(config, "run", env={"OIHWATCH_NCBI_BASE_URL": fake.url, "OIHWATCH_HARVEST_START": today})
    assert run.exit_code == 0, run.output
    assert "harvest: ok" in run.stderr  # its classify step trains a model for these topics first:
    assert re.search(r"^classify: ok: trained model \S+ \(the topics or their rules changed", run.stderr, re.M)
    assert re.search(r"^digest: ok: \d{4}-W\d\d: 12 papers, written for 2 recipient\(s\)", run.stderr, re.M), run.stderr
    assert list((config.parent / "outbox").glob("*/heredity@example.org.eml"))


def test_a_recorded_digest_still_goes_to_a_late_recipient_and_the_archive(config):
    assert oihwatch(config, "digest", "--send").exit_code == 0
    shutil.rmtree(config.parent / "outbox" / "archive")
    change(config, "added")  # with a new reader, and the model not retrained
    sent = oihwatch(config, "digest", "--send")
    assert sent.exit_code == 0, sent.output
    assert "heredity@example.org joined [[recipients]] after this digest was recorded" in sent.stdout
    assert list((config.parent / "outbox").glob("*/heredity@example.org.eml"))
    assert list((config.parent / "outbox" / "archive").glob("*.html"))
    assert "hold" not in oihwatch(config, "digest").stdout


def test_search_export_and_stats_say_once_that_their_tags_are_the_old_topics(config):
    commands = (["search", "rats", "--topic", "ketamine"], ["export", "--topic", "ketamine"], ["stats"])
    for command in commands:
        assert NOTE not in oihwatch(config, *command).stderr
    change(config, "rules changed")
    for command in commands:
        result = oihwatch(config, *command)
        assert result.exit_code == 0
        assert result.stderr.splitlines().count(NOTE) == 1 and "note:" not in result.stderr.replace(NOTE, ""), result.stderr


def test_serve_says_so_too(config):
    """The web view shows the same stored tags: the note goes to the terminal that started it."""
    change(config, "added")
    command = [sys.executable, "-c", "from oihwatch.cli import main; main()", "-c", str(config), "serve", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as process:
        try:
            url = re.search(r" on (http://\S+)$", process.stderr.readline()).group(1)
            assert httpx.get(url + "-/versions.json", timeout=30).status_code == 200  # past the note: it is serving
        finally:
            process.terminate()
        rest = process.communicate(timeout=30)[1]
    assert rest.splitlines()[0] == NOTE, rest
