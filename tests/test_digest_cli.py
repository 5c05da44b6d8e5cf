"""``oihwatch digest`` end to end: preview, outbox delivery, SMTP delivery, reruns and errors."""

from __future__ import annotations

import importlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.store import Store
from corpus.tags import save_classifications
from corpus.ledger import deliveries, find_digest
from digest_support import Clock, classify, created_on, parts, real_articles
from oihwatch.cli import cli
from oihwatch.config import default_config_text
from smtp_server import LoopbackSmtp

RECIPIENTS = """
[[recipients]]
email = "all@example.org"

[[recipients]]
email = "ketamine@example.org"
topics = ["ketamine"]
"""


def corpus_config(tmp_path, shared_data, papers: int) -> Path:
    """A config with two recipients beside a corpus of ``papers`` real records, created and classified today."""
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org") + RECIPIENTS)
    with Store(tmp_path / "oihwatch.db", clock=lambda: datetime.now(timezone.utc)) as store:
        articles = created_on(real_articles(shared_data, papers), datetime.now(timezone.utc).date())
        store.upsert_articles(articles)
        save_classifications(store, [classify(a, i) for i, a in enumerate(articles)])
    return path


@pytest.fixture
def config(tmp_path, shared_data):
    return corpus_config(tmp_path, shared_data, 12)


def smtp_env(smtp: LoopbackSmtp, sender: str = "digest@example.org") -> dict[str, str]:
    """The settings that point the digest at the loopback SMTP server."""
    return {"OIHWATCH_SMTP_HOST": "127.0.0.1", "OIHWATCH_SMTP_PORT": str(smtp.port),
            "OIHWATCH_SMTP_SECURITY": "none", "OIHWATCH_SMTP_SENDER": sender}


def run(config, *args, env=None):
    return CliRunner().invoke(cli, ["-c", str(config), "digest", *args], env=env)


def test_help_ends_with_an_example():
    result = CliRunner().invoke(cli, ["digest", "--help"])
    description = result.output.split("Options:")[0]
    assert result.exit_code == 0 and description.rstrip().endswith("Example:\n      oihwatch digest --send")


def test_preview_writes_files_and_records_nothing(config):
    result = run(config)
    assert result.exit_code == 0, result.output
    assert "preview of 20" in result.output
    assert result.stdout.splitlines()[-1] == "nothing sent; recipients: all@example.org, ketamine@example.org (add --send)"
    previews = list((config.parent / "outbox" / "preview").glob("*.html"))
    assert len(previews) == 1 and previews[0].with_suffix(".txt").exists()
    with Store(config.parent / "oihwatch.db") as store:
        assert store.db.execute("SELECT COUNT(*) FROM digests").fetchone()[0] == 0


def test_a_store_just_filled_from_files_previews_no_old_paper_as_new(tmp_path, shared_data):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org") + RECIPIENTS)
    export = shared_data / "pubmed-xml/exports/mokztk+pubmed-parser__pubmed_result.xml"
    ingested = CliRunner().invoke(cli, ["-c", str(path), "ingest", export.as_posix(), (shared_data / "corpus.jsonl").as_posix()])
    assert ingested.exit_code == 0, ingested.output
    with Store(tmp_path / "oihwatch.db") as store:
        articles = list(store.iter_articles())
        assert len(articles) > 1000
        save_classifications(store, [classify(a, i, relevance=0.9) for i, a in enumerate(articles) if a.abstract_sections])
    result = run(path)
    assert result.exit_code == 0, result.output
    assert "(0 papers)" in result.output


def test_one_paper_is_counted_as_one_paper_in_the_preview_and_the_send(tmp_path, shared_data):
    path = corpus_config(tmp_path, shared_data, 1)
    preview = run(path)
    assert re.search(r"^preview of \d{4}-W\d\d \(1 paper\): ", preview.stdout, re.M), preview.output
    sent = run(path, "--send")
    assert re.match(r"digest \d{4}-W\d\d: 1 paper\n", sent.stdout), sent.output


def test_send_to_the_outbox_then_rerun_sends_nothing(config, tmp_path):
    outbox = tmp_path / "elsewhere"
    result = run(config, "--send", "--outbox", str(outbox))
    assert result.exit_code == 0, result.output
    assert "written for all@example.org via outbox" in result.output
    assert "written for ketamine@example.org" in result.output
    assert f"archive: {config.parent / 'outbox' / 'archive' / 'index.html'}" in result.output  # one archive, every digest
    assert not (outbox / "archive").exists()
    assert len(list(outbox.glob("*/*.eml"))) == 2
    again = run(config, "--send", "--outbox", str(outbox))
    assert again.exit_code == 0 and "nothing sent" in again.output and "written for" not in again.output
    assert len(list(outbox.glob("*/*.eml"))) == 2
    preview = run(config)
    assert preview.stdout.splitlines()[-1] == ("nothing sent; this period's digest is done for every recipient "
                                               "(all@example.org, ketamine@example.org); --send would send nothing")


def test_a_preview_without_recipients_says_what_send_needs(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"))
    Store(tmp_path / "oihwatch.db").close()
    result = run(path)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "nothing sent; no recipients configured: add a [[recipients]] block to the config before --send"


def test_since_applies_to_a_new_digest_and_is_refused_for_a_recorded_one(config, tmp_path, monkeypatch):
    now = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)  # the command's clock, whatever the machine's says
    monkeypatch.setattr(importlib.import_module("oihwatch.commands.digest"), "digest_now", lambda: now)
    today = now.date()
    tomorrow = run(config, "--since", str(today + timedelta(days=1)))
    assert tomorrow.exit_code == 1 and tomorrow.stderr.startswith(f"Error: --since {today + timedelta(days=1)} is in the future")
    assert tomorrow.stderr.count("\n") == 1

    start = str(today - timedelta(days=3))
    sent = run(config, "--send", "--since", start, "--outbox", str(tmp_path / "out"))
    assert sent.exit_code == 0, sent.output
    with Store(config.parent / "oihwatch.db") as store:
        since, subject = store.db.execute("SELECT since, subject FROM digests").fetchone()
    assert since == f"{start}T05:00:00+00:00"  # midnight in New York, the schedule's zone, whose days the digest names
    assert "29 Nov - 2 Dec 2026" in subject  # from the day asked for, not the evening before it
    for args in (["--since", str(today)], ["--send", "--since", str(today), "--outbox", str(tmp_path / "out")]):
        moved = run(config, *args)
        assert moved.exit_code == 1 and "written for" not in moved.stdout
        assert moved.stderr.count("\n") == 1 and moved.stderr.startswith(f"Error: --since {today}: the ")
        assert f"digest is already recorded for records first seen {start} to {today}" in moved.stderr
    rerun = run(config, "--send", "--since", start, "--outbox", str(tmp_path / "out"))  # the same window: a rerun
    assert rerun.exit_code == 0 and "nothing sent" in rerun.output
    with Store(config.parent / "oihwatch.db") as store:  # as versions that began --since at UTC midnight recorded it
        store.db.execute("UPDATE digests SET since = ?", (f"{start}T00:00:00+00:00",))
    rerun = run(config, "--send", "--since", start, "--outbox", str(tmp_path / "out"))
    assert rerun.exit_code == 0 and "nothing sent" in rerun.output, rerun.output


def test_a_digest_recorded_without_since_is_rerun_with_the_day_its_window_starts_on(config, tmp_path, monkeypatch):
    now = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    monkeypatch.setattr(importlib.import_module("oihwatch.commands.digest"), "digest_now", lambda: now)
    out = str(tmp_path / "out")
    assert run(config, "--send", "--outbox", out).exit_code == 0
    with Store(config.parent / "oihwatch.db") as store:
        since = store.db.execute("SELECT since FROM digests").fetchone()[0]
    assert since[10:] != "T00:00:00+00:00"  # a week before the moment it was sent, not a midnight
    rerun = run(config, "--send", "--since", since[:10], "--outbox", out)  # the day the refusal names
    assert rerun.exit_code == 0 and "nothing sent" in rerun.output, rerun.output


def test_send_by_smtp_with_a_refused_recipient_then_a_rerun(config):
    with LoopbackSmtp() as smtp:
        env = smtp_env(smtp)
        smtp.handler.busy = {"ketamine@example.org"}
        first = run(config, "--send", env=env)
        assert first.exit_code == 1
        assert "sent to all@example.org via SMTP 127.0.0.1" in first.stdout
        assert "NOT delivered to ketamine@example.org" in first.stdout
        assert re.fullmatch(r"Error: 1 recipient\(s\) still pending for \d{4}-W\d\d; the next 'oihwatch digest --send' "
                            r"or run sends only what is missing", first.stderr.strip())
        smtp.handler.busy = set()
        second = run(config, "--send", env=env)
        assert second.exit_code == 0, second.output
        assert "sent to ketamine@example.org" in second.stdout and "earlier run to all@example.org" in second.stdout
        assert [len(smtp.handler.received_by(r)) for r in ("all@example.org", "ketamine@example.org")] == [1, 1]


def test_an_address_refused_for_good_is_named_with_what_to_do_in_the_error_and_in_status(config):
    with LoopbackSmtp() as smtp:
        env = smtp_env(smtp)
        smtp.handler.refuse = {"ketamine@example.org"}
        first = run(config, "--send", env=env)
        assert first.exit_code == 1 and "REFUSED for good, not retried: " in first.stdout
        assert re.fullmatch(r"Error: refused for good, not retried: SMTP 127\.0\.0\.1:\d+ \(none\) refused "
                            r"ketamine@example\.org: 550 .*; correct or remove the address in \[\[recipients\]\]",
                            first.stderr.strip())
        again = run(config, "--send", env=env)
        assert again.exit_code == 0, again.output
        assert "refused for good in an earlier run: ketamine@example.org" in again.stdout
        assert "nothing sent: delivered before to all@example.org" in again.stdout
    status = CliRunner().invoke(cli, ["-c", str(config), "status", "--json"])
    warnings = json.loads(status.stdout)["warnings"]
    assert any(re.match(r"the \d{4}-W\d\d digest to ketamine@example\.org was refused for good, not retried: .*550.*"
                        r"correct or remove the address", w) for w in warnings)
    config.write_text(config.read_text().replace('email = "ketamine@example.org"', 'email = "k2@example.org"'))
    after = json.loads(CliRunner().invoke(cli, ["-c", str(config), "status", "--json"]).stdout)["warnings"]
    assert not any("was refused for good" in w for w in after)  # taken out of the config: nothing more to do


def test_a_sender_with_a_display_name_is_a_normal_from(config):
    with LoopbackSmtp() as smtp:
        env = smtp_env(smtp, "OIH Watch <digest@oihwatch.example.org>")
        result = run(config, "--send", env=env)
        assert result.exit_code == 0, result.output
        (message,) = smtp.handler.received_by("all@example.org")
    assert message["From"].addresses[0].display_name == "OIH Watch"
    assert message["From"].addresses[0].addr_spec == "digest@oihwatch.example.org"
    assert re.fullmatch(r"<oihwatch\.\d{4}-W\d\d\.[0-9a-f]{12}@oihwatch\.example\.org>", message["Message-ID"])
    assert message["List-Unsubscribe"] == "<mailto:digest@oihwatch.example.org?subject=unsubscribe>"


def test_a_bad_sender_stops_before_anything_is_recorded(config):
    env = {"OIHWATCH_SMTP_HOST": "127.0.0.1", "OIHWATCH_SMTP_SENDER": "OIH Watch digest@oihwatch.example.org"}
    result = run(config, "--send", env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: smtp.sender in $OIHWATCH_SMTP_SENDER: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    with Store(config.parent / "oihwatch.db") as store:
        assert store.db.execute("SELECT COUNT(*) FROM digests").fetchone()[0] == 0


def test_smtp_without_a_sender_is_a_config_error(config):
    result = run(config, "--send", env={"OIHWATCH_SMTP_HOST": "127.0.0.1"})
    assert result.exit_code == 1 and "smtp.sender" in result.stderr


def test_a_login_without_its_password_is_named_in_the_preview_and_refused_by_send(config):
    with LoopbackSmtp() as smtp:
        env = {**smtp_env(smtp), "OIHWATCH_SMTP_USERNAME": "digest"}
        preview = run(config, env=env)
        sent = run(config, "--send", env=env)
        assert smtp.handler.messages == []
    unset = "smtp.username in $OIHWATCH_SMTP_USERNAME asks for a login, but $OIHWATCH_SMTP_PASSWORD is not set in this environment"
    assert preview.exit_code == 0 and preview.stdout.splitlines()[-1].startswith(f"nothing sent; --send would refuse: {unset}; ")
    assert sent.exit_code == 1 and sent.stderr.startswith(f"Error: {unset}; ") and sent.stderr.count("\n") == 1
    with Store(config.parent / "oihwatch.db") as store:
        assert store.db.execute("SELECT COUNT(*) FROM digests").fetchone()[0] == 0


def test_no_recipients_is_a_config_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org"))
    Store(tmp_path / "oihwatch.db").close()  # digest needs a corpus; it never starts one
    result = run(path, "--send")
    assert result.exit_code == 1 and "[[recipients]]" in result.stderr


def test_with_smtp_set_outbox_files_are_copies_and_every_recipient_still_gets_the_mail(config, tmp_path):
    copies = tmp_path / "copies"
    with LoopbackSmtp() as smtp:
        env = smtp_env(smtp)
        looked = run(config, "--send", "--outbox", str(copies), env=env)
        assert looked.exit_code == 0, looked.output
        assert "copy written for all@example.org in outbox" in looked.stdout and "NOT delivered" in looked.stdout
        assert "stay pending, and the next 'oihwatch digest --send' (without --outbox) or run e-mails them" in looked.stdout
        assert len(list(copies.glob("*/*.eml"))) == 2 and not smtp.handler.messages
        archive = config.parent / "outbox" / "archive"
        assert f"archive: {archive / 'index.html'}" in looked.stdout and not (copies / "archive").exists()
        with Store(config.parent / "oihwatch.db") as store:
            (period,) = [row[0] for row in store.db.execute("SELECT period FROM digests")]
            assert {d.status for d in deliveries(store, find_digest(store, period).id)} == {"pending"}

        sent = run(config, "--send", env=env)
        assert sent.exit_code == 0, sent.output
        assert "sent to all@example.org via SMTP" in sent.stdout and "sent to ketamine@example.org via SMTP" in sent.stdout
        assert [len(smtp.handler.received_by(r)) for r in ("all@example.org", "ketamine@example.org")] == [1, 1]
        (copy,) = copies.glob("*/all@example.org.eml")
        mailed = smtp.handler.received_by("all@example.org")[0]
        assert parts(copy)[0].splitlines() == parts(mailed)[0].splitlines()  # the copy was that mail
    assert (archive / f"{period}.html").exists() and f"{period}.html" in (archive / "index.html").read_text()


@pytest.fixture
def harvested(tmp_path, shared_data):
    """A config and a corpus as a harvest leaves it: twelve records PubMed created today, not classified yet."""
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org") + RECIPIENTS)
    with Store(tmp_path / "oihwatch.db", clock=lambda: datetime.now(timezone.utc)) as store:
        store.upsert_articles(created_on(real_articles(shared_data, 12), datetime.now(timezone.utc).date()))
    return path


def test_send_refuses_while_records_of_the_window_are_not_classified_and_sends_them_once_they_are(harvested):
    preview = run(harvested)
    assert preview.exit_code == 0, preview.output
    assert re.search(r"preview of \d{4}-W\d\d \(0 papers, 12 not classified yet\)", preview.stdout)
    assert preview.stdout.splitlines()[-1] == ("nothing sent; --send would refuse while 12 record(s) of its window "
                                               "are not classified: run 'oihwatch classify' first")
    with LoopbackSmtp() as smtp:
        env = smtp_env(smtp)
        refused = run(harvested, "--send", env=env)
        assert refused.exit_code == 1 and refused.stdout == ""
        assert refused.stderr.count("\n") == 1
        assert re.fullmatch(r"Error: the \d{4}-W\d\d digest is not recorded or sent: 12 record\(s\) first seen in its window "
                            r"are not classified yet, and it would leave them out; run 'oihwatch classify' \(or fix what "
                            r"makes it fail\), then send again", refused.stderr.strip())
        assert not smtp.handler.messages
        with Store(harvested.parent / "oihwatch.db") as store:
            assert store.db.execute("SELECT COUNT(*) FROM digests").fetchone()[0] == 0
            articles = list(store.iter_articles())
            save_classifications(store, [classify(a, i) for i, a in enumerate(articles)])  # what 'oihwatch classify' does
        sent = run(harvested, "--send", env=env)
        assert sent.exit_code == 0, sent.output
        assert re.match(r"digest \d{4}-W\d\d: 10 papers\n", sent.stdout)
        (message,) = smtp.handler.received_by("all@example.org")
    assert "10 new papers" in message["Subject"]
    text, _ = parts(message)
    assert all(f"pubmed.ncbi.nlm.nih.gov/{a.pmid}/" in text for i, a in enumerate(articles) if i % 5 != 4)


def test_a_since_reaching_into_an_earlier_digest_leaves_its_papers_out(tmp_path, shared_data, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text(default_config_text("ops@example.org") + RECIPIENTS)
    clock = Clock(datetime(2026, 11, 18, 12, 0, tzinfo=timezone.utc))
    articles = real_articles(shared_data, 20)
    earlier, later = created_on(articles[:10], clock.now.date()), created_on(articles[10:], date(2026, 11, 25))
    with Store(tmp_path / "oihwatch.db", clock=clock) as store:
        store.upsert_articles(earlier)
        save_classifications(store, [classify(a, i) for i, a in enumerate(earlier)])
    command = importlib.import_module("oihwatch.commands.digest")
    with LoopbackSmtp() as smtp:
        env = smtp_env(smtp)
        monkeypatch.setattr(command, "digest_now", lambda: datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc))
        first = run(path, "--send", env=env)
        assert first.exit_code == 0 and first.stdout.startswith("digest 2026-W48: 8 papers\n"), first.output
        clock.now = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
        with Store(tmp_path / "oihwatch.db", clock=clock) as store:
            store.upsert_articles(later)
            save_classifications(store, [classify(a, i) for i, a in enumerate(later)])
        monkeypatch.setattr(command, "digest_now", lambda: datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc))
        preview = run(path, "--since", "2026-11-16")
        assert "preview of 2026-W49 (8 papers, 8 left out: earlier digests listed them)" in preview.stdout, preview.output
        second = run(path, "--send", "--since", "2026-11-16", env=env)
        assert second.exit_code == 0, second.output
        assert second.stdout.startswith("digest 2026-W49: 8 papers; 8 left out: earlier digests listed them\n")
        w48, w49 = smtp.handler.received_by("all@example.org")
    first_text, second_text = parts(w48)[0], parts(w49)[0]
    assert all(f"/{a.pmid}/" not in second_text for a in earlier) and all(f"/{a.pmid}/" not in first_text for a in later)
    assert "New papers: 8 in this digest, 8 in the one before (23 Nov)." in second_text
    with Store(tmp_path / "oihwatch.db") as store:
        assert store.db.execute("SELECT COUNT(*) FROM digest_items GROUP BY pmid HAVING COUNT(*) > 1").fetchall() == []
