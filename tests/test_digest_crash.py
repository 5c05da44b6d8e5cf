"""``oihwatch digest --send`` cut short in a process of its own: killed after a recipient's message was
accepted, or unable to record an acceptance (a corpus it cannot write then)."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from corpus.ledger import deliveries, digest_items, last_digest
from corpus.store import Store
from oihwatch.cli import cli
from smtp_server import LoopbackSmtp
from test_digest_cli import corpus_config, smtp_env


@pytest.fixture
def config(tmp_path, shared_data):
    return corpus_config(tmp_path, shared_data, 12)


def send_in_a_process(config, smtp: LoopbackSmtp) -> subprocess.Popen:
    """``oihwatch digest --send`` against ``smtp``, in a process the test may kill or limit."""
    command = [sys.executable, "-c", "from oihwatch.cli import main; main()", "-c", str(config), "digest", "--send"]
    return subprocess.Popen(command, env={**os.environ, **smtp_env(smtp)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def on_data(smtp: LoopbackSmtp, before_message):
    """Have ``before_message(n)`` run as the server receives the n-th message (0 first), before it accepts it;
    a reply it returns refuses the message instead."""
    accept = smtp.handler.handle_DATA

    async def handle_data(server, session, envelope):
        return before_message(len(smtp.handler.messages)) or await accept(server, session, envelope)

    smtp.handler.handle_DATA = handle_data


def status(config) -> dict:
    result = CliRunner().invoke(cli, ["-c", str(config), "status", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_send_killed_after_a_recipient_was_accepted_shows_in_the_runs_table_what_it_sent(config):
    with LoopbackSmtp() as smtp:
        def kill_at_the_second(count: int) -> str | None:
            if count == 1:
                os.kill(sender.pid, signal.SIGKILL)
                return "451 4.3.0 the sender is gone"
            return None

        on_data(smtp, kill_at_the_second)
        sender = send_in_a_process(config, smtp)
        sender.communicate(timeout=120)
        assert sender.returncode == -signal.SIGKILL and len(smtp.handler.messages) == 1
    with Store(config.parent / "oihwatch.db") as store:
        papers = len(digest_items(store, last_digest(store).id))
    (run,) = [run for run in status(config)["last_runs"] if run["step"] == "digest"]
    assert (run["status"], run["found"], run["new"]) == ("interrupted", papers, 1)
    table = CliRunner().invoke(cli, ["-c", str(config), "status"], env={"COLUMNS": "300"}).stdout
    assert f"{papers} papers, for 1 recipient" in table and "nothing sent or written" not in table


def send_filling_at_the_first_message(config, smtp: LoopbackSmtp) -> str:
    """``digest --send`` in a process whose files may grow no more once the server has the first message,
    before it accepts it (a real limit, ``ulimit -f``, as on a full disk): the corpus's write-ahead log
    cannot take that delivery's mark. Returns its stderr."""
    wal = config.parent / "oihwatch.db-wal"

    def fill_at_the_first(count: int) -> None:
        if count == 0:
            limits = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.prlimit(sender.pid, resource.RLIMIT_FSIZE, (wal.stat().st_size, limits[1]))

    on_data(smtp, fill_at_the_first)
    sender = send_in_a_process(config, smtp)
    _, stderr = sender.communicate(timeout=120)
    assert sender.returncode == 1 and len(smtp.handler.messages) == 1, stderr
    return stderr


def test_a_message_accepted_while_the_corpus_cannot_be_written_is_recorded_by_the_next_send_not_sent_again(config):
    """The error says that the recipient's message was accepted, status does not call them 'not tried yet',
    and the next send records the delivery instead of sending it again."""
    with LoopbackSmtp() as smtp:
        stderr = send_filling_at_the_first_message(config, smtp)
        with Store(config.parent / "oihwatch.db", read_only=True) as store:
            period = last_digest(store).period
        note = config.parent / "oihwatch.db.sending"
        assert re.fullmatch(
            rf"Error: cannot write to .*oihwatch\.db: .*; all@example\.org's copy of the {period} digest was accepted by "
            rf"SMTP 127\.0\.0\.1:\d+ \(none\), but could not be recorded: it is noted in {re.escape(str(note))}, and the "
            r"next 'oihwatch digest --send' or run records it instead of sending it again; once the corpus can be "
            r"written again, rerun to send what is missing\n", stderr)

        warnings = status(config)["warnings"]
        assert (f"the {period} digest to all@example.org was accepted by the server, but the corpus could not record "
                f"it then (it is noted in {note}); the next 'oihwatch digest --send' or run records it, without "
                "sending it again") in warnings
        assert not any("all@example.org pending" in warning for warning in warnings)

        again = CliRunner().invoke(cli, ["-c", str(config), "digest", "--send"], env=smtp_env(smtp))
        assert again.exit_code == 0, again.output
        assert "sent to ketamine@example.org" in again.stdout and "sent to all@example.org" not in again.stdout
        assert [len(smtp.handler.received_by(r)) for r in ("all@example.org", "ketamine@example.org")] == [1, 1]
    assert not note.exists()
    with Store(config.parent / "oihwatch.db") as store:
        assert {d.recipient: d.status for d in deliveries(store, last_digest(store).id)} == {
            "all@example.org": "sent", "ketamine@example.org": "sent"}


def test_a_message_accepted_that_neither_the_corpus_nor_a_note_can_record_is_said_to_go_again(config):
    """Where not even the note can be written, the error still says who got the digest, and that the next
    send sends it again, as it does."""
    (config.parent / "oihwatch.db.sending").mkdir()  # a name the note cannot take
    with LoopbackSmtp() as smtp:
        stderr = send_filling_at_the_first_message(config, smtp)
        assert re.search(r"; all@example\.org's copy of the \d{4}-W\d\d digest was accepted by SMTP [^ ]+ \(none\), but "
                         r"could not be recorded, so the next 'oihwatch digest --send' or run sends it again \(with the "
                         r"same Message-ID, which most mail clients fold\); once the corpus can be written again, rerun "
                         r"to send what is missing\n$", stderr)
        again = CliRunner().invoke(cli, ["-c", str(config), "digest", "--send"], env=smtp_env(smtp))
        assert again.exit_code == 0 and len(smtp.handler.received_by("all@example.org")) == 2, again.output
