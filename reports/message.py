"""Build one recipient's e-mail: text and HTML as alternatives, the chart as a related inline image.

    multipart/alternative
    ├── text/plain                      (read by text-only clients and screen readers)
    └── multipart/related
        ├── text/html                   (<img src="cid:...">)
        └── image/png                   (the trend chart, Content-ID)

List-Unsubscribe names where to unsubscribe (a mailto: address, or an https: page), the same link
as the footer's. List-Unsubscribe-Post, the one-click button Gmail and Yahoo require of bulk senders,
comes only with an https: link that names the recipient: RFC 8058 allows it with an HTTPS URI only,
and the POST a mail client sends holds nothing but 'List-Unsubscribe=One-Click', so the URI is all
that tells the page who clicked. The setting's ``{email}`` is each recipient's address, URL-encoded;
a link without it is offered as a page to visit, not as a button that would tell a reader they are
unsubscribed while nothing knows who clicked. The Message-ID is chosen when the delivery is recorded,
so a retry carries the same ID; its domain is the sender's, which may carry a display name
('OIH Watch <digest@example.org>').

Two headers are folded by hand-picked rules instead of the default policy's. That policy moves a
value that fits a line by itself, but not after its name, whole onto the next line: a Subject of
70-77 characters goes out as 'Subject:' CRLF ' OIH...', which Python's parser (and some clients)
read with a leading space; ``email.header.Header`` folds it at a space instead. And it turns a
List-Unsubscribe URL longer than a line into encoded words, which no client reads as a link; a
URL cannot be folded, so that header stays on one line (RFC 5322 allows 998 characters).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.header import Header
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

from reports.address import EMAIL_PLACEHOLDER, MailAddress, ascii_domain, parse_address, smtp_address
from reports.render import RenderedDigest

CHART_NAME = "trend.png"


class _FoldedAtSpaces(UnstructuredHeader):
    def fold(self, *, policy) -> str:
        value = Header(str(self), header_name=self.name).encode(linesep=policy.linesep, maxlinelen=policy.max_line_length)
        return f"{self.name}: {value}{policy.linesep}"


class _OneLine(UnstructuredHeader):
    def fold(self, *, policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("subject", _FoldedAtSpaces)
_HEADERS.map_to_type("list-unsubscribe", _OneLine)
POLICY = default.clone(header_factory=_HEADERS)


def message_id(period: str, recipient: str, sender: str) -> str:
    """A stable '<oihwatch.2026-W48.ab12cd34@example.org>' for one digest to one recipient."""
    domain = ascii_domain(parse_address(sender).domain) if sender else "oihwatch.invalid"
    token = hashlib.sha256(recipient.lower().encode()).hexdigest()[:12]
    return f"<oihwatch.{period}.{token}@{domain}>"


def chart_cid(period: str) -> str:
    """A Content-ID (without angle brackets) for the chart."""
    return make_msgid(idstring=f"trend.{period}", domain="oihwatch.invalid")[1:-1]


def build_message(
    rendered: RenderedDigest,
    *,
    sender: str,
    recipient: str,
    message_id: str,
    date: datetime,
    unsubscribe: str = "",
    one_click: bool = False,
    chart_png: bytes | None = None,
    cid: str = "",
) -> EmailMessage:
    """The e-mail for one recipient; ``rendered.html`` refers to the chart as ``cid:{cid}``; ``one_click``:
    ``unsubscribe`` is an https: link that names the recipient (``unsubscribe_link``). Addresses
    carry their domain in ASCII (IDNA): the header encoding would turn a non-ASCII one into an
    encoded word, which no address may hold."""
    message = EmailMessage(policy=POLICY)
    message["Subject"] = rendered.subject
    message["From"] = _ascii_domain(parse_address(sender)) if sender else "oihwatch@localhost"
    message["To"] = smtp_address(recipient)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        if one_click and unsubscribe.startswith("https://"):
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    if chart_png is not None:
        html_part = message.get_payload()[1]
        html_part.add_related(chart_png, maintype="image", subtype="png", cid=f"<{cid}>",
                              disposition="inline", filename=CHART_NAME)
    return message


def _ascii_domain(address: Address) -> Address:
    return MailAddress(address.display_name, address.username, ascii_domain(address.domain))


def unsubscribe_link(unsubscribe: str, sender: str, recipient: str) -> tuple[str, bool]:
    """Where ``recipient`` unsubscribes, and whether it is one-click: the setting's https: link with
    ``{email}`` filled in (one-click), or as it is (a page to visit); else
    'mailto:ADDRESS?subject=unsubscribe' (the setting's address or the sender), whose mail comes from
    the recipient and so names them."""
    if unsubscribe.startswith("https://"):
        return unsubscribe.replace(EMAIL_PLACEHOLDER, quote(recipient, safe="")), EMAIL_PLACEHOLDER in unsubscribe
    address = unsubscribe.removeprefix("mailto:") or (parse_address(sender).addr_spec if sender else "")
    return (f"mailto:{smtp_address(address)}?subject=unsubscribe" if address else ""), False
