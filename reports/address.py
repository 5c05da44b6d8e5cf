"""One e-mail address from the configuration, read by the standard library's header parser, and the SMTP login it can send.

The sender may carry a display name (``OIH Watch <digest@example.org>``); a recipient is the bare
address given to the SMTP server. The configuration checks both when it is loaded, so a bad one
stops a run before a digest is recorded; a non-ASCII domain goes out in its ASCII (IDNA) form.
Kept apart from ``reports.message`` so that loading the configuration does not import the renderer.
"""

from __future__ import annotations

from email.errors import HeaderParseError
from email.headerregistry import Address
from email.policy import default

import idna

EMAIL_PLACEHOLDER = "{email}"  # in digest.unsubscribe: each recipient's address (reports.message.unsubscribe_link)
# What the error of an address the mail server refused for good ends with (reports.delivery), and what
# status adds to such an error stored without it (oihwatch.status), here where status need not import the mailer.
ADDRESS_ADVICE = "correct or remove the address in [[recipients]]"


def parse_address(text: str, *, display_name: bool = True) -> Address:
    """The one address in ``text``; a ValueError saying what is wrong otherwise."""
    try:
        header = default.header_factory("to", text)
        addresses = header.addresses
    except (HeaderParseError, IndexError):  # the parser raises IndexError on 'name@'
        addresses, header = (), None
    if header is None or header.defects or len(addresses) != 1 or not (addresses[0].username and addresses[0].domain):
        example = "name@example.org or 'Name <name@example.org>'" if display_name else "name@example.org"
        raise ValueError(f"{text!r} is not one e-mail address (write {example})")
    if addresses[0].display_name and not display_name:
        raise ValueError(f"{text!r}: give the address alone ({addresses[0].addr_spec}), without a name")
    try:
        ascii_domain(addresses[0].domain)
    except idna.IDNAError as exc:
        raise ValueError(f"{text!r}: {addresses[0].domain} is not a domain name (IDNA: {exc})") from None
    return addresses[0]


def ascii_domain(domain: str) -> str:
    """``domain`` as it goes over the wire: a non-ASCII one in its IDNA form ('bücher.de' ->
    'xn--bcher-kva.de'), which every mail server takes, where only one offering SMTPUTF8 takes the
    letters themselves. IDNA 2008 with the UTS 46 mapping, as registries and browsers write it:
    'straße.de' is a domain of its own, not 'strasse.de' as Python's 'idna' codec (IDNA 2003) has it."""
    return domain if domain.isascii() else idna.encode(domain, uts46=True).decode("ascii")


def smtp_address(address: str) -> str:
    """A bare address with its domain in ASCII (``ascii_domain``); only non-ASCII letters before the @
    still need the server's SMTPUTF8."""
    local, _, domain = address.rpartition("@")
    return f"{local}@{ascii_domain(domain)}"


def login_problem(username: str, password: str) -> str:
    """Why smtplib cannot log in with these credentials ('' if it can). It sends every AUTH mechanism's
    answer as ASCII, and fails on anything else with a UnicodeEncodeError naming the position of the
    character in the password; its hooks (``auth_plain``...) return text it encodes itself, so the UTF-8
    that RFC 4616 allows for PLAIN cannot go through them. The message names no character of the password."""
    if not username.isascii():
        return (f"smtp.username {username!r} holds non-ASCII characters, which Python's smtplib cannot send in an SMTP "
                "login; set the account's ASCII login name there (often its e-mail address)")
    if not password.isascii():
        return ("$OIHWATCH_SMTP_PASSWORD holds non-ASCII characters, which Python's smtplib cannot send in an SMTP login; "
                "give the mail account a password of ASCII characters only (or an app password, where the provider offers "
                "them) and set it there")
    return ""
