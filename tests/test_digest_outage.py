"""A digest while the harvest fails: held back, then sent with a note once it has waited long enough."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from corpus.ledger import find_digest
from corpus.runs import finish_run, start_run
from corpus.store import Store
from digest_support import MONDAY, Clock, filled_store, params, parts, words
from reports.delivery import SmtpTransport
from reports.outage import HARVEST_OUTAGE_GRACE, harvest_outage
from reports.sending import Recipient, hold_reason, preview_digest, send_due_digest

EVERYONE, KETAMINE = Recipient("all@example.org"), Recipient("ketamine@example.org", ("ketamine",))
WATCHED = params((EVERYONE, KETAMINE), queries=("oih",))
DUE = datetime.fromisoformat("2026-11-23T12:00:00+00:00")  # MONDAY's digest: 07:00 in New York
NOTE = "PubMed could not be searched since 2026-11-22; papers added since then will be in the next digest."


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY - timedelta(days=1))


@pytest.fixture
def store(shared_data, clock):
    with filled_store(shared_data, clock) as (store, _):
        yield store


def harvest(store, clock: Clock, at: datetime, ok: bool) -> None:
    """A harvest of query 'oih' recorded as the harvester records it."""
    clock.now = at
    finish_run(store, start_run(store, "harvest", "oih"), "ok" if ok else "failed", error="" if ok else "NCBI answered 503")


def send(store, clock: Clock, at: datetime, smtp):
    clock.now = at
    return send_due_digest(store, WATCHED, at, SmtpTransport("127.0.0.1", smtp.port, "none", timeout=5))


def test_a_digest_waits_for_a_failing_harvest_and_goes_after_the_next_success_without_a_note(store, clock, smtp):
    harvest(store, clock, MONDAY - timedelta(days=1), ok=True)
    harvest(store, clock, MONDAY - timedelta(hours=1), ok=False)  # NCBI is down on Monday morning
    held = send(store, clock, MONDAY, smtp)
    failed, release = MONDAY - timedelta(hours=1), DUE + HARVEST_OUTAGE_GRACE
    assert (failed, release) == (datetime.fromisoformat("2026-11-23T13:00:00+00:00"), datetime.fromisoformat("2026-11-26T12:00:00+00:00"))
    assert held.held == ("the 2026-W48 digest is held: the last harvest (query oih) failed at 2026-11-23 08:00 EST; "
                         "it goes out after the next successful harvest, or from 2026-11-26 07:00 EST with a note that "
                         "PubMed could not be searched since 2026-11-22")
    assert find_digest(store, "2026-W48") is None and smtp.handler.messages == [] and not held.new
    assert preview_digest(store, WATCHED, MONDAY).caveat == NOTE  # the preview says what it would lack

    harvest(store, clock, MONDAY + timedelta(minutes=30), ok=True)
    sent = send(store, clock, MONDAY + timedelta(hours=1), smtp)
    assert not sent.held and sorted(sent.delivered) == [EVERYONE.email, KETAMINE.email]
    (message,) = smtp.handler.received_by(EVERYONE.email)
    assert "PubMed" not in message["Subject"] and "could not be searched" not in "".join(parts(message))


def test_an_outage_after_a_success_is_dated_from_it_without_looking_up_the_first_attempt():
    clock = Clock(MONDAY - timedelta(days=2))
    with Store(":memory:", clock=clock) as runs:
        harvest(runs, clock, MONDAY - timedelta(days=2), ok=False)  # the first attempt, before any success
        harvest(runs, clock, MONDAY - timedelta(days=1), ok=True)
        harvest(runs, clock, MONDAY - timedelta(hours=1), ok=False)
        statements: list[str] = []
        runs.db.set_trace_callback(statements.append)
        outage = harvest_outage(runs, ["oih"])
        runs.db.set_trace_callback(None)
        success = runs.db.execute("SELECT started FROM runs WHERE status = 'ok'").fetchone()[0]
    assert outage.since == success and outage.status == "failed"
    assert len(statements) == 2 and not any("MIN(started)" in sql for sql in statements)  # the latest run, the success


def test_the_hint_under_a_preview_reads_the_failing_harvest_once(store, clock):
    """``digest`` without --send, and status, ask preview_digest, then hold_reason of that preview."""
    harvest(store, clock, MONDAY - timedelta(days=1), ok=True)
    harvest(store, clock, MONDAY - timedelta(hours=1), ok=False)
    clock.now = MONDAY
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    held = hold_reason(store, WATCHED, MONDAY, preview_digest(store, WATCHED, MONDAY))
    store.db.set_trace_callback(None)
    assert held.startswith("the 2026-W48 digest is held: the last harvest (query oih) failed at "
                           "2026-11-23 08:00 EST; it goes out after the next successful harvest")
    assert held.endswith("PubMed could not be searched since 2026-11-22")
    assert len([sql for sql in statements if "FROM runs WHERE step = 'harvest'" in sql]) == 2  # the latest run, the success


def test_a_harvest_stopped_by_ctrl_c_holds_the_digest_saying_it_was_interrupted(store, clock, smtp):
    harvest(store, clock, MONDAY - timedelta(days=1), ok=True)
    clock.now = stopped = MONDAY - timedelta(hours=1)
    finish_run(store, start_run(store, "harvest", "oih"), "interrupted", error="interrupted by Ctrl-C")
    held = send(store, clock, MONDAY, smtp)
    assert stopped == datetime.fromisoformat("2026-11-23T13:00:00+00:00")
    assert held.held.startswith("the 2026-W48 digest is held: the last harvest (query oih) was interrupted at "
                                "2026-11-23 08:00 EST; it goes out after the next successful harvest")


def test_past_the_grace_a_digest_goes_out_saying_since_when_pubmed_could_not_be_searched(store, clock, smtp):
    harvest(store, clock, MONDAY - timedelta(days=1), ok=True)
    harvest(store, clock, MONDAY - timedelta(hours=1), ok=False)
    harvest(store, clock, DUE + HARVEST_OUTAGE_GRACE - timedelta(hours=2), ok=False)  # still down on Thursday
    assert send(store, clock, DUE + HARVEST_OUTAGE_GRACE - timedelta(minutes=1), smtp).held
    smtp.handler.busy = {KETAMINE.email}
    sent = send(store, clock, DUE + HARVEST_OUTAGE_GRACE, smtp)
    assert not sent.held and sent.delivered == [EVERYONE.email] and list(sent.failed) == [KETAMINE.email]
    (message,) = smtp.handler.received_by(EVERYONE.email)
    text, html = parts(message)
    assert words(text.replace("\r\n", "\n").split("\n\n")[1]) == f"INCOMPLETE: {NOTE}"  # under the heading line, before anything else
    assert html.index(NOTE) < html.index("The week at a glance")
    assert message["Subject"].endswith("; PubMed not searched since 2026-11-22")

    smtp.handler.busy = set()
    harvest(store, clock, DUE + HARVEST_OUTAGE_GRACE + timedelta(hours=1), ok=True)  # NCBI is back
    again = send(store, clock, DUE + HARVEST_OUTAGE_GRACE + timedelta(hours=2), smtp)
    assert again.delivered == [KETAMINE.email]  # the digest as recorded, note and all
    (late,) = smtp.handler.received_by(KETAMINE.email)
    assert f"INCOMPLETE: {NOTE}" in words(parts(late)[0]) and late["Subject"].endswith("; PubMed not searched since 2026-11-22")


def test_a_first_backfill_that_fails_holds_the_first_digest_and_an_empty_one_says_nothing_found(store, clock, smtp):
    harvest(store, clock, MONDAY - timedelta(hours=3), ok=False)  # no harvest ever succeeded: a first install
    assert "could not be searched since 2026-11-23" in send(store, clock, MONDAY, smtp).held
    later = MONDAY + timedelta(weeks=1)  # a week without papers, the harvest failing since the first attempt
    harvest(store, clock, later - timedelta(hours=3), ok=False)
    store.db.execute("DELETE FROM classifications")
    store.db.execute("UPDATE articles SET first_seen = '2026-01-01T00:00:00+00:00'")
    clock.now = later + HARVEST_OUTAGE_GRACE
    empty = send_due_digest(store, params((EVERYONE,), queries=("oih",)), clock.now,
                            SmtpTransport("127.0.0.1", smtp.port, "none", timeout=5))
    assert empty.delivered == [EVERYONE.email] and empty.items == 0
    (message,) = smtp.handler.received_by(EVERYONE.email)
    text, _ = parts(message)
    assert message["Subject"] == "OIH evidence digest, 26 Nov - 3 Dec 2026: nothing found; PubMed not searched since 2026-11-23"
    assert "INCOMPLETE: PubMed could not be searched since 2026-11-23" in text and "Nothing found on opioid" in text
    assert "Nothing new" not in text


def test_a_harvest_left_running_by_a_killed_process_holds_the_digest_in_the_preview_and_status_as_send_does(tmp_path):
    """A killed harvest leaves its row 'running' until the next writer marks it; the preview and status,
    which take no lock, ask whether a process holds it: none does, so the harvest was interrupted."""
    from click.testing import CliRunner

    from oihwatch.cli import cli
    from oihwatch.config import default_config_text, load_settings
    from oihwatch.lock import lock_path, write_lock

    config = tmp_path / "config.toml"
    config.write_text(default_config_text("ops@example.org") + '\n[[recipients]]\nemail = "all@example.org"\n',
                      encoding="utf-8")
    settings = load_settings(config, {})
    with Store(settings.database_path) as store:
        start_run(store, "harvest", "oih")  # what 'kill -9' of a harvest leaves behind
    held = "the last harvest (query oih) was interrupted at "

    def preview() -> str:
        return CliRunner().invoke(cli, ["-c", str(config), "digest"]).stdout

    def status_warnings() -> list[str]:
        import json

        return json.loads(CliRunner().invoke(cli, ["-c", str(config), "status", "--json"]).stdout)["warnings"]

    with write_lock(lock_path(settings.database_path), "harvest"):  # the harvest is still under way
        assert "(add --send)" in preview() and not any(held in warning for warning in status_warnings())
    assert "--send would hold it back: the " in preview() and held in preview()
    assert any(held in warning for warning in status_warnings())
    sent = CliRunner().invoke(cli, ["-c", str(config), "digest", "--send"])
    assert sent.exit_code == 1 and held in sent.output
