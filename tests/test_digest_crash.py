"""``oihwatch digest --send`` cut short in a process of its own: killed after a recipient's message was
accepted, or unable to record an acceptance (a corpus it cannot write then)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from corpus.ledger import digest_items, last_digest
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
