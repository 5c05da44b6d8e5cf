"""Non-ASCII letters before the @ (RFC 6531), from config.toml to the mail server: sent with SMTPUTF8, or
refused for want of it with a message saying so; written to the outbox with UTF-8 headers (RFC 6532)."""

from __future__ import annotations

import email
from email.policy import default
from pathlib import Path

import pytest
from click.testing import CliRunner

from oihwatch.cli import cli
from reports.address import parse_address
from smtp_server import LoopbackSmtp
from test_digest_cli import corpus_config

ANAIS = "anaïs@example.org"


def mail_config(tmp_path: Path, shared_data: Path, sender: str, port: int | None = None) -> Path:
    """A corpus of real records, its two recipients and ``ANAIS``, sending from ``sender`` through the
    loopback server on ``port`` (None: no [smtp] host, so .eml files in the outbox)."""
    config = corpus_config(tmp_path, shared_data, 6)
    text = config.read_text(encoding="utf-8").replace('sender = ""', f'sender = "{sender}"', 1)
    if port is not None:
        text = text.replace('host = ""\nport = 587', f'host = "127.0.0.1"\nport = {port}', 1)
        text = text.replace('security = "starttls"', 'security = "none"', 1)
    config.write_text(f'{text}\n[[recipients]]\nemail = "{ANAIS}"\n', encoding="utf-8")
    return config


def send(config: Path):
    return CliRunner().invoke(cli, ["-c", str(config), "digest", "--send"])


@pytest.mark.parametrize("address", [ANAIS, "OIH Watch <wächter@example.org>", "Zoë <zoë.müller@bücher.de>"])
def test_an_address_with_non_ascii_letters_before_the_at_is_read(address):
    """The email package calls them a defect (NonASCIILocalPartDefect), which they are only without SMTPUTF8."""
    assert str(parse_address(address)) == address


@pytest.mark.parametrize("character", ["\u2028", "\x85", "\xa0", "\u200b", "\u202e", "\u3000"],
                         ids=["line separator", "next line", "no-break space", "zero-width space", "RLO", "wide space"])
def test_a_character_no_address_holds_is_still_refused_before_the_at(character):
    """The parser reads these as letters of a non-ASCII local part."""
    with pytest.raises(ValueError, match="is not one e-mail address"):
        parse_address(f"ana{character}s@example.org", display_name=False)


def test_a_recipient_from_the_config_goes_out_with_smtputf8(tmp_path, shared_data):
    with LoopbackSmtp(enable_SMTPUTF8=True) as smtp:
        result = send(mail_config(tmp_path, shared_data, "digest@example.org", smtp.port))
        assert result.exit_code == 0, result.output
        assert f"sent to {ANAIS} via SMTP" in result.stdout
        (message,) = smtp.handler.received_by(ANAIS)
        assert message["To"] == ANAIS and len(smtp.handler.messages) == 3


def test_a_recipient_from_the_config_is_refused_clearly_by_a_server_without_smtputf8(tmp_path, shared_data):
    with LoopbackSmtp(enable_SMTPUTF8=False) as smtp:
        result = send(mail_config(tmp_path, shared_data, "digest@example.org", smtp.port))
        assert result.exit_code == 1
        assert (f"cannot take {ANAIS}: non-ASCII letters before the @ need SMTPUTF8, which this server does not offer"
                in result.stderr)
        assert sorted(rcpt for rcpts, _ in smtp.handler.messages for rcpt in rcpts) == ["all@example.org", "ketamine@example.org"]


@pytest.mark.parametrize("smtputf8", [True, False])
def test_a_sender_from_the_config_goes_out_with_smtputf8_or_is_refused_for_want_of_it(tmp_path, shared_data, smtputf8):
    with LoopbackSmtp(enable_SMTPUTF8=smtputf8) as smtp:
        result = send(mail_config(tmp_path, shared_data, "OIH Watch <wächter@example.org>", smtp.port))
        if smtputf8:
            assert result.exit_code == 0, result.output
            assert {str(message["From"]) for _, message in smtp.handler.messages} == {"OIH Watch <wächter@example.org>"}
            assert len(smtp.handler.messages) == 3
        else:
            assert result.exit_code == 1 and not smtp.handler.messages
            assert "does not offer SMTPUTF8, which the non-ASCII smtp.sender needs" in result.output


def test_the_outbox_writes_such_addresses_in_utf8_headers(tmp_path, shared_data):
    """Python's default writes a non-ASCII local part as an encoded word, which no address may hold, and
    cannot write the sender's in List-Unsubscribe's mailto: at all (UnicodeEncodeError)."""
    result = send(mail_config(tmp_path, shared_data, "OIH Watch <wächter@example.org>"))
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "outbox").rglob("*.eml"))
    assert len(files) == 3
    for path in files:
        raw = path.read_bytes()
        assert "\nFrom: OIH Watch <wächter@example.org>\n".encode() in raw
        message = email.message_from_string(raw.decode("utf-8"), policy=default)  # bytes: surrogates for UTF-8
        assert [a.addr_spec for a in message["From"].addresses] == ["wächter@example.org"]
        assert message["List-Unsubscribe"] == "<mailto:wächter@example.org?subject=unsubscribe>"
    (anais,) = [path for path in files if path.name.startswith("ana")]
    assert f"\nTo: {ANAIS}\n".encode() in anais.read_bytes()
