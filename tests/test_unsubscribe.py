"""List-Unsubscribe and the footer link: one-click (RFC 8058) only with a link that names the recipient."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from email.policy import default

import pytest

from corpus.errors import ConfigError
from digest_support import MONDAY, Clock, filled_store, params, parts
from oihwatch.config import load_settings
from reports.delivery import SmtpTransport
from reports.sending import Recipient, send_due_digest
from smtp_server import LoopbackSmtp

ANA, BEN = Recipient("ana@example.org"), Recipient("ben+oih@example.org")


@pytest.fixture
def store(shared_data):
    with filled_store(shared_data, Clock(MONDAY - timedelta(days=1)), limit=6) as (store, _):
        yield store


def sent(store, unsubscribe: str) -> dict[str, email.message.EmailMessage]:
    """The digest as each recipient got it, by recipient."""
    with LoopbackSmtp() as smtp:
        send_due_digest(store, params((ANA, BEN), unsubscribe=unsubscribe), MONDAY,
                        SmtpTransport("127.0.0.1", smtp.port, "none", timeout=5))
        return {rcpts[0]: email.message_from_bytes(raw, policy=default)
                for (rcpts, _), raw in zip(smtp.handler.messages, smtp.handler.raw)}


def footer_links(message) -> tuple[str, str]:
    """The unsubscribe link of the text part and of the HTML part."""
    text, html = parts(message)
    in_html = re.search(r'<a href="([^"]+)"[^>]*>Unsubscribe</a>', html)
    return re.search(r"Unsubscribe:\s+(\S+)", text)[1], in_html[1]  # a long link on a line of its own


def test_each_recipient_gets_a_one_click_link_naming_them_in_the_header_and_the_footer(store):
    messages = sent(store, "https://example.org/oih/unsubscribe?email={email}")
    for recipient, encoded in ((ANA, "ana%40example.org"), (BEN, "ben%2Boih%40example.org")):
        message = messages[recipient.email]
        link = f"https://example.org/oih/unsubscribe?email={encoded}"
        assert message["List-Unsubscribe"] == f"<{link}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert footer_links(message) == (link, link)


def test_a_page_that_cannot_tell_who_clicked_is_a_link_without_the_one_click_button(store):
    """A mail client's one-click POST carries nothing but 'List-Unsubscribe=One-Click': the URL is all there is."""
    messages = sent(store, "https://example.org/oih/unsubscribe")
    for message in messages.values():
        assert message["List-Unsubscribe"] == "<https://example.org/oih/unsubscribe>"
        assert message["List-Unsubscribe-Post"] is None
        assert footer_links(message) == ("https://example.org/oih/unsubscribe",) * 2


@pytest.mark.parametrize("page", ["https://example.org/u?e={mail}", "https://example.org/u?e={{email}}"])
def test_a_mistyped_placeholder_stops_the_config_at_load(tmp_path, page):
    path = tmp_path / "config.toml"
    path.write_text(f'[ncbi]\nemail = "a@b.org"\n[digest]\nunsubscribe = "{page}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^digest\.unsubscribe in .*: the one placeholder an unsubscribe page takes is \{email\}"):
        load_settings(path, {})
    path.write_text('[ncbi]\nemail = "a@b.org"\n[digest]\nunsubscribe = "https://example.org/u?e={email}"\n', encoding="utf-8")
    assert load_settings(path, {}).digest.unsubscribe == "https://example.org/u?e={email}"
