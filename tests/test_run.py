"""Running unattended, end to end: ``oihwatch run`` against a loopback E-utilities fake and SMTP server.

Each test starts from an empty folder holding only a config file, as an operator would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from fake_eutils import FakeRecord
from lxml import etree

from corpus import Store
from corpus.errors import DeliveryError
from corpus.tags import Classification, save_classifications
from oihwatch.app import App
from oihwatch.cli import cli
from oihwatch.config import default_config_text
from oihwatch.pipeline import digest_step

API_KEY = "run-test-key-0123456789"


def write_config(folder: Path, base_url: str, smtp_port: int, **extra: str) -> Path:
    text = default_config_text("ops@example.org")
    replacements = {
        'base_url = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"': f'base_url = "{base_url}"\ntimeout = 5\nretry_budget = {extra.get("retry_budget", "20")}',
        "lock_wait = 5": "lock_wait = 0.5",
        "start = 2000-01-01": "start = 2023-01-01",
        'host = ""': 'host = "127.0.0.1"',
        "port = 587": f"port = {smtp_port}",
        'security = "starttls"': 'security = "none"',
        'sender = ""': 'sender = "oihwatch@example.org"',
    }
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    text += '\n[[recipients]]\nemail = "all@example.org"\ntopics = []\n'
    text += '\n[[recipients]]\nemail = "ketamine@example.org"\ntopics = ["ketamine"]\n'
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def oihwatch(config: Path, *args: str) -> subprocess.CompletedProcess:
    """The installed console entry point, in its own process, as cron would start it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIHWATCH_")}
    env["NCBI_API_KEY"] = API_KEY
    return subprocess.run(
        [sys.executable, "-c", "from oihwatch.cli import main; main()", "-c", str(config), *args],
        capture_output=True, text=True, env=env, cwd=config.parent, timeout=300,
    )


def test_run_from_an_empty_folder_harvests_classifies_and_mails_once(tmp_path, fake, smtp):
    config = write_config(tmp_path, fake.url, smtp.port)
    first = oihwatch(config, "run")
    assert first.returncode == 0, first.stderr
    steps = [line.split(":")[0] for line in first.stderr.splitlines() if line.split(":")[0] in {"harvest", "classify", "digest"}]
    assert steps == ["harvest", "classify", "digest"]
    assert "harvest: ok" in first.stderr and "digest: ok" in first.stderr
    assert first.stdout == ""  # its first pass trains a model: the report is on stderr with the step lines
    assert re.search(r"^model \S+ saved to ", first.stderr, re.MULTILINE)

    with Store(tmp_path / "oihwatch.db") as store:
        created_since_2023 = {p for p, r in fake.records.items() if r.created.year >= 2023}
        stored = {a.pmid for a in store.iter_articles()}
        assert created_since_2023 <= stored
        assert store.db.execute("SELECT COUNT(*) FROM classifications").fetchone()[0] == len(stored)
        assert len(smtp.handler.received_by("all@example.org")) == 1
        assert len(smtp.handler.received_by("ketamine@example.org")) == 1

        again = oihwatch(config, "run")  # same week: nothing new to send, nothing sent twice
        assert again.returncode == 0, again.stderr
        assert "digest: ok: not due" in again.stderr
        assert len(smtp.handler.messages) == 2

        status = json.loads(oihwatch(config, "status", "--json").stdout)
        assert {(r["step"], r["status"]) for r in status["last_runs"]} >= {("harvest", "ok"), ("classify", "ok"), ("digest", "ok")}
        assert status["model"]["version"]
        assert status["digests"]["sent"] == 1 and status["digests"]["pending"] == []
        for output in (first.stdout, first.stderr, again.stderr):
            assert API_KEY not in output
        dump = "\n".join(store.db.iterdump())
        assert API_KEY not in dump


def created_on(record: FakeRecord, pmid: str, day: date) -> FakeRecord:
    """A copy of a real record under a new PMID that PubMed created on ``day``."""
    root = etree.fromstring(record.xml)
    root.find("MedlineCitation/PMID").text = pmid
    history = root.find("PubmedData/History")
    for event in list(history):
        history.remove(event)
    entrez = etree.SubElement(history, "PubMedPubDate", PubStatus="entrez")
    for name, value in (("Year", day.year), ("Month", day.month), ("Day", day.day)):
        etree.SubElement(entrez, name).text = str(value)
    return FakeRecord(pmid, etree.tostring(root), day, day)


def test_the_first_run_mails_what_its_own_harvest_found_that_pubmed_created_this_week(tmp_path, fake, smtp):
    fresh = datetime.now(timezone.utc).date() - timedelta(days=2)
    fake.records["99000001"] = created_on(fake.records["38011560"], "99000001", fresh)
    config = write_config(tmp_path, fake.url, smtp.port)
    config.write_text(config.read_text().replace('relevance_threshold = "model"', "relevance_threshold = 0.0", 1))
    first = oihwatch(config, "run")
    assert first.returncode == 0, first.stderr
    assert ": 1 paper, delivered to 2 recipient(s)" in first.stderr, first.stderr
    (message,) = smtp.handler.received_by("all@example.org")
    assert "pubmed.ncbi.nlm.nih.gov/99000001/" in message.get_body(("plain",)).get_content()


def test_a_run_whose_classify_fails_sends_no_digest_without_the_records_it_could_not_tag(tmp_path, fake, smtp):
    fresh = datetime.now(timezone.utc).date() - timedelta(days=2)
    source = fake.records["38011560"]
    fake.records.clear()  # three new records: too few to train a first model on, so classify fails
    for pmid in ("99000001", "99000002", "99000003"):
        fake.records[pmid] = created_on(source, pmid, fresh)
    config = write_config(tmp_path, fake.url, smtp.port)
    config.write_text(config.read_text().replace('relevance_threshold = "model"', "relevance_threshold = 0.0", 1))
    first = oihwatch(config, "run")
    assert first.returncode == 1
    assert "harvest: ok" in first.stderr and "classify: FAILED: only 3 records" in first.stderr
    assert re.search(r"^digest: FAILED: the \d{4}-W\d\d digest is not recorded or sent: 3 record\(s\) first seen in its "
                     r"window are not classified yet", first.stderr, re.M), first.stderr
    assert first.stderr.strip().splitlines()[-1].startswith("Error: classify, digest failed")
    assert smtp.handler.messages == []  # no "nothing new" to anyone
    with Store(tmp_path / "oihwatch.db") as store:
        assert store.db.execute("SELECT COUNT(*) FROM digests").fetchone()[0] == 0
        save_classifications(store, [Classification(p, 0.9, "rct", "", "test") for p in ("99000001", "99000002", "99000003")])

    second = oihwatch(config, "run")  # classify fails again, but nothing in the digest's window waits for it
    assert "classify: FAILED" in second.stderr and ": 3 papers, delivered to 2 recipient(s)" in second.stderr, second.stderr
    (message,) = smtp.handler.received_by("all@example.org")
    assert all(f"pubmed.ncbi.nlm.nih.gov/{p}/" in message.get_body(("plain",)).get_content() for p in ("99000001", "99000003"))


def test_two_runs_at_once_one_works_the_other_names_the_lock_holder(tmp_path, fake, smtp):
    config = write_config(tmp_path, fake.url, smtp.port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIHWATCH_")}
    command = [sys.executable, "-c", "from oihwatch.cli import main; main()", "-c", str(config), "run"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
                 for _ in range(2)]
    outcomes = [(p.wait(timeout=300), *p.communicate()) for p in processes]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 1], outcomes
    loser = next(err for code, _, err in outcomes if code == 1)
    assert "another oihwatch is writing to this corpus ('run', pid " in loser
    assert len(smtp.handler.received_by("all@example.org")) == 1


def test_a_digest_that_could_not_be_mailed_fails_the_digest_step_alone_and_status_says_why(tmp_path, fake, smtp):
    """No $OIHWATCH_SMTP_PASSWORD in cron's environment, or no smtp.sender: the corpus still grows each night."""
    config = write_config(tmp_path, fake.url, smtp.port)
    config.write_text(config.read_text().replace('username = ""', 'username = "digest"', 1))
    login = oihwatch(config, "run")
    assert login.returncode == 1
    assert "harvest: ok" in login.stderr and "classify: ok" in login.stderr, login.stderr
    assert re.search(rf"^digest: FAILED: smtp\.username in {re.escape(str(config))} asks for a login, but "
                     r"\$OIHWATCH_SMTP_PASSWORD is not set in this environment; ", login.stderr, re.M), login.stderr
    assert login.stderr.strip().splitlines()[-1].startswith("Error: digest failed")
    with Store(tmp_path / "oihwatch.db") as store:
        assert store.count_articles() > 0 and store.db.execute("SELECT COUNT(*) FROM digests").fetchone()[0] == 0

    config.write_text(config.read_text().replace('sender = "oihwatch@example.org"', 'sender = ""', 1))
    sender = oihwatch(config, "run")
    assert sender.returncode == 1 and "harvest: ok" in sender.stderr and "classify: ok" in sender.stderr
    assert f"\ndigest: FAILED: smtp.sender in {config}: required to e-mail the digest (the From: address); " in sender.stderr
    by_hand = oihwatch(config, "digest", "--send")
    assert by_hand.returncode == 1 and by_hand.stderr == (
        f"Error: smtp.sender in {config}: required to e-mail the digest (the From: address); "
        'set it, e.g. sender = "OIH Watch <digest@example.org>"\n')
    assert smtp.handler.messages == []
    status = CliRunner().invoke(cli, ["-c", str(config), "status", "--json"])
    assert f"the digest cannot be e-mailed: smtp.sender in {config}: required" in " ".join(json.loads(status.stdout)["warnings"])

    env = {k: v for k, v in os.environ.items() if not k.startswith("OIHWATCH_")}
    scheduler = subprocess.Popen([sys.executable, "-c", "from oihwatch.cli import main; main()", "-c", str(config), "schedule"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    assert scheduler.stderr.readline().startswith("scheduling harvest '30 2 * * *'")  # its harvest job runs
    scheduler.send_signal(signal.SIGTERM)
    assert scheduler.wait(timeout=30) == 0
    scheduler.communicate()


def test_a_failed_harvest_holds_the_new_digest_in_run_the_digest_job_and_digest_send(tmp_path, smtp, shared_data):
    """A first install whose backfill fails: no "nothing new" to clinicians while PubMed cannot be searched."""
    config = write_config(tmp_path, "http://127.0.0.1:9/entrez/eutils/", smtp.port, retry_budget="0.5")
    runner = CliRunner()
    earlier = shared_data / "pubmed-xml/exports/mokztk+pubmed-parser__pubmed_result.xml"  # harvested before the outage
    ingested = runner.invoke(cli, ["-c", str(config), "ingest", str(earlier)])
    assert ingested.exit_code == 0, ingested.output
    result = oihwatch(config, "run")
    assert result.returncode == 1
    assert "harvest: FAILED" in result.stderr
    moment = r"\d{4}-\d\d-\d\d \d\d:\d\d E[SD]T"  # in the schedule's zone, New York
    held = re.search(rf"^digest: FAILED: the (\d{{4}}-W\d\d) digest is held: the last harvest \(query oih\) failed at {moment}; it "
                     rf"goes out after the next successful harvest, or from {moment} with a note that PubMed could not be searched "
                     r"since \d{4}-\d\d-\d\d$", result.stderr, re.M)
    assert held, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: harvest, digest failed")
    status = json.loads(oihwatch(config, "status", "--json").stdout)
    harvest = next(r for r in status["last_runs"] if r["step"] == "harvest")
    assert harvest["status"] == "failed" and harvest["error"]
    assert any("harvest" in w and "failed" in w for w in status["warnings"])

    app = App(str(config), environ={})
    with app.writing("digest"), pytest.raises(DeliveryError, match=rf"^the {held[1]} digest is held: "):
        digest_step(app, datetime.now(timezone.utc))  # the scheduler's digest job, hours later
    app.close()
    by_hand = oihwatch(config, "digest", "--send")
    assert by_hand.returncode == 1 and by_hand.stderr.startswith(f"Error: the {held[1]} digest is held: the last harvest")
    preview = oihwatch(config, "digest")
    assert preview.stdout.splitlines()[-1].startswith(f"nothing sent; --send would hold it back: the {held[1]} digest is held")
    assert "INCOMPLETE: PubMed could not be searched since" in (tmp_path / "outbox" / "preview" / f"{held[1]}.txt").read_text()
    assert smtp.handler.messages == []
    with Store(tmp_path / "oihwatch.db") as store:
        assert store.db.execute("SELECT COUNT(*) FROM digests").fetchone()[0] == 0


def test_a_digest_missed_for_weeks_is_sent_once(tmp_path, smtp, shared_data):
    config = write_config(tmp_path, "http://127.0.0.1:9/", smtp.port)
    app = App(str(config), environ={})
    monday = datetime(2026, 11, 2, 13, 0, tzinfo=timezone.utc)  # 08:00 in New York, after the 07:00 due time
    with app.writing("run"):
        assert "2026-W45" in digest_step(app, monday)
        assert digest_step(app, monday + timedelta(days=2)).startswith("not due")
        three_weeks_later = monday + timedelta(days=23)  # the machine was off for three Mondays
        assert "2026-W48" in digest_step(app, three_weeks_later)
        assert digest_step(app, three_weeks_later + timedelta(hours=1)).startswith("not due")
    app.close()
    assert len(smtp.handler.received_by("all@example.org")) == 2


def test_without_an_smtp_host_the_digest_line_says_the_files_were_written_not_delivered(tmp_path, smtp):
    config = write_config(tmp_path, "http://127.0.0.1:9/", smtp.port)
    config.write_text(config.read_text().replace('host = "127.0.0.1"', 'host = ""', 1))
    app = App(str(config), environ={})
    with app.writing("run"):
        line = digest_step(app, datetime(2026, 11, 2, 13, 0, tzinfo=timezone.utc))
    app.close()
    assert line == f"2026-W45: 0 papers, written for 2 recipient(s) in outbox {tmp_path / 'outbox'}"
    assert len(list((tmp_path / "outbox" / "2026-W45").glob("*.eml"))) == 2 and smtp.handler.messages == []


def test_a_digest_the_mail_server_missed_goes_out_with_the_next_one(tmp_path, smtp):
    monday = datetime(2026, 11, 2, 13, 0, tzinfo=timezone.utc)
    down = App(str(write_config(tmp_path, "http://127.0.0.1:9/", 9)), environ={})  # nothing listens on port 9
    with down.writing("run"), pytest.raises(DeliveryError):
        digest_step(down, monday)
    down.close()
    up = App(str(write_config(tmp_path, "http://127.0.0.1:9/", smtp.port)), environ={})
    with up.writing("run"):
        report = digest_step(up, monday + timedelta(weeks=1))
        assert report.startswith("2026-W45 (owed from before): ") and "; 2026-W46: " in report
        assert digest_step(up, monday + timedelta(weeks=1, hours=1)).startswith("not due")
    up.close()
    subjects = [m["Subject"] for m in smtp.handler.received_by("all@example.org")]
    assert subjects == ["OIH evidence digest, 26 Oct - 2 Nov 2026: nothing new", "OIH evidence digest, 2-9 Nov 2026: nothing new"]


def test_an_archive_that_cannot_be_written_holds_no_e_mail_back(tmp_path, smtp):
    """The archive is a copy to browse: the e-mails go, and the step fails saying what to fix."""
    config = write_config(tmp_path, "http://127.0.0.1:9/", smtp.port)
    (tmp_path / "outbox").mkdir()
    (tmp_path / "outbox" / "archive").write_text("a file where the archive folder goes")
    app = App(str(config), environ={})
    with app.writing("run"), pytest.raises(DeliveryError) as raised:
        digest_step(app, datetime(2026, 11, 2, 13, 0, tzinfo=timezone.utc))
    app.close()
    assert [len(smtp.handler.received_by(r)) for r in ("all@example.org", "ketamine@example.org")] == [1, 1]
    assert str(raised.value) == (f"the 2026-W45 digest is not in the archive: cannot write the archive {tmp_path / 'outbox' / 'archive'}: "
                                 "File exists; check digest.outbox, then the next run or 'oihwatch digest --send' adds it "
                                 "(it sends nothing twice)")
    with Store(tmp_path / "oihwatch.db") as store:
        assert {row[0] for row in store.db.execute("SELECT status FROM deliveries")} == {"sent"}


def test_a_page_the_archive_missed_is_added_by_a_later_run_or_send_even_in_another_week(tmp_path, smtp):
    """The error promised the page: the next digest sent (by a run, as by 'digest --send'), or a pass with
    none due, adds every recorded one missing."""
    config = write_config(tmp_path, "http://127.0.0.1:9/", smtp.port)
    archive = tmp_path / "outbox" / "archive"
    archive.parent.mkdir()
    archive.write_text("a file where the archive folder goes")
    monday = datetime(2026, 11, 2, 13, 0, tzinfo=timezone.utc)
    app = App(str(config), environ={})
    with app.writing("run"), pytest.raises(DeliveryError, match="^the 2026-W45 digest is not in the archive: "):
        digest_step(app, monday)
    archive.unlink()  # fixed once the week was over
    with app.writing("run"):
        assert digest_step(app, monday + timedelta(weeks=1)).startswith("2026-W46: ")
        assert sorted(page.name for page in archive.glob("*.html")) == ["2026-W45.html", "2026-W46.html", "index.html"]
        assert "2026-W45.html" in (archive / "index.html").read_text()
        (archive / "2026-W45.html").unlink()  # lost again, while no digest is due
        assert digest_step(app, monday + timedelta(weeks=1, hours=1)).startswith("not due")
    app.close()
    assert (archive / "2026-W45.html").exists() and "26 Oct - 2 Nov 2026" in (archive / "2026-W45.subject").read_text()
    assert [len(smtp.handler.received_by(r)) for r in ("all@example.org", "ketamine@example.org")] == [2, 2]


def test_schedule_lists_jobs_and_stops_cleanly_on_sigterm(tmp_path, smtp):
    config = write_config(tmp_path, "http://127.0.0.1:9/", smtp.port)
    listing = oihwatch(config, "schedule", "--list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].startswith("harvest  30 2 * * *") and lines[1].startswith("digest   0 7 * * mon")
    assert lines[1].count("T07:00:00-05:00") == 3  # three Mondays, 07:00 New York time

    env = {k: v for k, v in os.environ.items() if not k.startswith("OIHWATCH_")}
    process = subprocess.Popen(
        [sys.executable, "-c", "from oihwatch.cli import main; main()", "-c", str(config), "schedule"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    assert process.stderr.readline().startswith("scheduling harvest '30 2 * * *'")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    process.communicate()
