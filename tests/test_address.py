"""Addresses from the configuration: a sender's name as the operator writes it, and what stays refused."""

from __future__ import annotations

import email
from datetime import timedelta
from email.policy import default

import pytest

from digest_support import MONDAY, Clock, filled_store, params
from oihwatch.config import load_settings
from reports.address import parse_address
from reports.delivery import SmtpTransport
from reports.sending import Recipient, send_due_digest

# RFC 5322 wants these in double quotes: a '.' is obsolete syntax in a name, a ',' separates two addresses.
NAMES = ["St. Mary's Pain Clinic", "Dr. Müller", "OIH Watch, Pain Clinic", "Dr."]
ADVICE = r"is not one e-mail address \(write .*; a name holding \", @ or \\ goes in double quotes"


@pytest.mark.parametrize("name", NAMES)
def test_a_sender_name_with_a_period_or_comma_is_read_as_written_and_quoted(name):
    address = parse_address(f"{name} <digest@example.org>")
    assert (address.display_name, address.addr_spec) == (name, "digest@example.org")
    assert str(address) == f'"{name}" <digest@example.org>'
    assert parse_address(str(address)) == address  # what the configuration keeps reads back the same


@pytest.mark.parametrize(
    "text",
    [
        "a@example.org, Name <b@example.org>",  # two addresses, not a name
        "Digest @ Clinic <digest@example.org>",  # the name might be an address
        "St. Mary's <a@example.org> <b@example.org>",
        "St. Mary's <digest@example.org",
        "Dr.\nMüller <digest@example.org>",
        'St. "OIH" Clinic <digest@example.org>',  # quotes of its own: which are the name's?
    ],
)
def test_a_value_that_is_not_one_name_and_one_address_is_still_refused_with_advice(text):
    with pytest.raises(ValueError, match=ADVICE):
        parse_address(text)


def test_the_advice_for_a_name_with_quotes_or_an_at_sign_works():
    assert parse_address('"St. \\"OIH\\" Clinic" <digest@example.org>').display_name == 'St. "OIH" Clinic'
    assert parse_address('"Digest @ Clinic" <digest@example.org>').display_name == "Digest @ Clinic"


def test_a_recipient_with_such_a_name_is_told_to_give_the_address_alone():
    with pytest.raises(ValueError, match=r"give the address alone \(kim@example\.org\), without a name"):
        parse_address("Dr. Kim <kim@example.org>", display_name=False)


@pytest.mark.parametrize("name", NAMES[:3])
def test_the_sent_from_header_gives_the_sender_name_back(shared_data, smtp, tmp_path, name):
    """From the environment variable through the configuration to the header the mail server receives."""
    config = tmp_path / "config.toml"
    config.write_text('[ncbi]\nemail = "a@b.org"\n', encoding="utf-8")
    sender = load_settings(config, {"OIHWATCH_SMTP_SENDER": f"{name} <digest@example.org>"}).smtp.sender
    assert sender == f'"{name}" <digest@example.org>'
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=1)), limit=5) as (store, _):
        transport = SmtpTransport("127.0.0.1", smtp.port, "none", timeout=5)
        outcome = send_due_digest(store, params((Recipient("all@example.org"),), sender=sender), MONDAY, transport)
        assert outcome.delivered == ["all@example.org"]
        (raw,) = smtp.handler.raw
        header = email.message_from_bytes(raw, policy=default)["From"]
        assert not header.defects
        assert [(a.display_name, a.addr_spec) for a in header.addresses] == [(name, "digest@example.org")]
        if name.isascii():
            assert f'\r\nFrom: "{name}" <digest@example.org>\r\n'.encode() in raw
