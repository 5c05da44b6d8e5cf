"""A local part that needs its double quotes ('"john..doe"@example.org') keeps them from config.toml to the
envelope, the headers and the outbox: without them it is no address (a '.' may not begin or end a local part,
nor follow another), and the standard library drops them when dots are all that needs them."""

from __future__ import annotations

import smtplib

import pytest
from click.testing import CliRunner

from corpus.store import Store
from oihwatch.cli import cli
from oihwatch.config import load_settings
from reports.address import parse_address
from smtp_server import LoopbackSmtp
from test_digest_cli import corpus_config

JOHN = '"john..doe"@example.org'
SENDER = '"oih..digest"@example.org'


@pytest.mark.parametrize("address", [JOHN, '".kim"@example.org', '"kim."@example.org', '"../../../pwn"@example.org',
                                     'OIH <"oih..digest"@example.org>', '"a b"@example.org'])
def test_a_local_part_that_needs_its_quotes_keeps_them(address):
    parsed = parse_address(address)
    assert str(parsed) == address and parse_address(str(parsed)) == parsed
    assert parsed.addr_spec == address.removeprefix("OIH <").removesuffix(">")


def test_quotes_that_a_local_part_does_not_need_are_left_out():
    assert parse_address('"john.doe"@example.org', display_name=False).addr_spec == "john.doe@example.org"


def test_the_configuration_keeps_the_quotes(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f"[ncbi]\nemail = '{JOHN}'\n[smtp]\nsender = 'OIH <{SENDER}>'\n[[recipients]]\nemail = '{JOHN}'\n",
                      encoding="utf-8")
    settings = load_settings(config, {})
    assert (settings.ncbi.email, settings.smtp.sender, settings.recipients[0].email) == (JOHN, f"OIH <{SENDER}>", JOHN)


def quoted_config(tmp_path, shared_data, port: int | None = None):
    """A corpus of real records, its two recipients and ``JOHN``, sending from ``SENDER`` through the
    loopback server on ``port`` (None: no [smtp] host, so .eml files in the outbox)."""
    config = corpus_config(tmp_path, shared_data, 6)
    text = config.read_text(encoding="utf-8").replace('sender = ""', f"sender = 'OIH <{SENDER}>'", 1)
    if port is not None:
        text = text.replace('host = ""\nport = 587', f'host = "127.0.0.1"\nport = {port}', 1)
        text = text.replace('security = "starttls"', 'security = "none"', 1)
    config.write_text(f"{text}\n[[recipients]]\nemail = '{JOHN}'\n", encoding="utf-8")
    return config


def test_the_envelope_and_headers_keep_the_quotes(tmp_path, shared_data, monkeypatch):
    """What goes over the wire: aiosmtpd itself drops the quotes when it reads MAIL and RCPT, so the
    client's commands are the ones to look at."""
    commands: list[str] = []
    putcmd = smtplib.SMTP.putcmd

    def recording(connection, cmd, args=""):
        if cmd in ("mail", "rcpt"):  # SMTP's FROM: and TO: are in any case: Python 3.13 sends 'from:' and 'to:'
            keyword, address = args.split(" size=")[0].split(":", 1)
            commands.append(f"{cmd} {keyword.upper()}:{address}")
        return putcmd(connection, cmd, args)

    monkeypatch.setattr(smtplib.SMTP, "putcmd", recording)
    with LoopbackSmtp() as smtp:
        result = CliRunner().invoke(cli, ["-c", str(quoted_config(tmp_path, shared_data, smtp.port)), "digest", "--send"])
        assert result.exit_code == 0, result.output
        assert f"sent to {JOHN} via SMTP" in result.stdout
        assert f"rcpt TO:<{JOHN}>" in commands and f"mail FROM:<{SENDER}>" in commands
        (raw,) = [raw for raw in smtp.handler.raw if f"\r\nTo: {JOHN}\r\n".encode() in raw]
        assert f"\r\nFrom: OIH <{SENDER}>\r\n".encode() in raw


def test_the_outbox_file_is_named_as_before_and_the_message_keeps_the_quotes(tmp_path, shared_data):
    result = CliRunner().invoke(cli, ["-c", str(quoted_config(tmp_path, shared_data)), "digest", "--send"])
    assert result.exit_code == 0, result.output
    (written,) = (tmp_path / "outbox").rglob('_john..doe_@example.org-*.eml')
    raw = written.read_bytes()
    assert f"\nTo: {JOHN}\n".encode() in raw and f"\nFrom: OIH <{SENDER}>\n".encode() in raw


def test_a_reader_an_earlier_version_recorded_without_the_quotes_is_not_sent_the_week_again(tmp_path, shared_data):
    """Versions that dropped the quotes recorded the delivery to 'john..doe@example.org': after an upgrade the
    configured '"john..doe"@example.org' is that reader, served already, not a newcomer."""
    config = quoted_config(tmp_path, shared_data)
    assert CliRunner().invoke(cli, ["-c", str(config), "digest", "--send"]).exit_code == 0
    with Store(tmp_path / "oihwatch.db") as store:
        store.db.execute("UPDATE deliveries SET recipient = 'john..doe@example.org' WHERE recipient = ?", (JOHN,))
    again = CliRunner().invoke(cli, ["-c", str(config), "digest", "--send"])
    assert again.exit_code == 0, again.output
    assert len(list((tmp_path / "outbox").rglob("*john..doe*.eml"))) == 1
    with Store(tmp_path / "oihwatch.db") as store:
        assert [r for r, in store.db.execute("SELECT recipient FROM deliveries WHERE recipient LIKE '%john..doe%'")] == [
            "john..doe@example.org"]
