"""One e-mail address from the configuration, read by the standard library's header parser, and the SMTP login it can send.

The sender may carry a display name (``OIH Watch <digest@example.org>``); a recipient is the bare
address given to the SMTP server. A name that RFC 5322 wants in double quotes, as most names with a
'.' or ',' ("St. Mary's Pain Clinic", "Dr. Müller", "OIH Watch, Pain Clinic"), is read as written
when one <address> ends the value, and written quoted. The configuration checks both when it is
loaded, so a bad one stops a run before a digest is recorded; a non-ASCII domain goes out in its
ASCII (IDNA) form.
Kept apart from ``reports.message`` so that loading the configuration does not import the renderer.
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError, NonASCIILocalPartDefect
from email.headerregistry import Address
from email.policy import default

import idna

EMAIL_PLACEHOLDER = "{email}"  # in digest.unsubscribe: each recipient's address (reports.message.unsubscribe_link)
# What the error of an address the mail server refused for good ends with (reports.delivery), and what
# status adds to such an error stored without it (oihwatch.status), here where status need not import the mailer.
ADDRESS_ADVICE = "correct or remove the address in [[recipients]]"
# 'NAME <ADDRESS>': one address at the end, and a name that quoting reads as it stands. With an '@' in
# it the name may be another address ('a@example.org, Name <b@example.org>' is two), and a '"' or '\\'
# would change its meaning inside quotes: such values stay refused.
_NAMED = re.compile(r'\s*([^"<>@\\]+?)\s*<([^<>]*)>\s*')


class MailAddress(Address):
    """An address whose ``addr_spec``, and so its ``str()``, keeps the double quotes its local part needs.
    The standard library's quotes one holding a space or another special character, but not one that
    only its dots make invalid: '"john..doe"@example.org' came out as 'john..doe@example.org', which is
    no address (a '.' may not begin or end a local part, nor follow another), so a strict server refuses
    it and a lenient one may deliver it elsewhere."""

    @property
    def addr_spec(self) -> str:
        spec = super().addr_spec
        if spec.startswith('"') or "" not in self.username.split("."):
            return spec
        return f'"{self.username}"@{self.domain}'


def parse_address(text: str, *, display_name: bool = True) -> MailAddress:
    """The one address in ``text``; a ValueError saying what is wrong otherwise. A name before a single
    <address> is taken as written when the parser wants it quoted: its '.' (obsolete syntax, a defect)
    and ',' (a list of two) make sense in one name only."""
    address = _one_address(text) or _one_address(_name_quoted(text))
    if address is None:
        example = ("name@example.org or 'Name <name@example.org>'; a name holding \", @ or \\ goes in double quotes, "
                   "with a \\ before each \" or \\ in it") if display_name else "name@example.org"
        raise ValueError(f"{text!r} is not one e-mail address (write {example})")
    if address.display_name and not display_name:
        raise ValueError(f"{text!r}: give the address alone ({address.addr_spec}), without a name")
    try:
        ascii_domain(address.domain)
    except idna.IDNAError as exc:
        raise ValueError(f"{text!r}: {address.domain} is not a domain name (IDNA: {exc})") from None
    return address


def _one_address(text: str) -> MailAddress | None:
    """The address of a header value that holds one and nothing the parser finds wrong. Non-ASCII
    letters before the @ are no fault: RFC 6531 sends them with SMTPUTF8, and delivery does so or
    refuses the address when the server lacks it (``reports.delivery``). The parser calls them a
    defect, as they are in a message without SMTPUTF8; it also takes a line separator (U+2028, U+0085),
    a no-break space or an invisible format character for a letter there, which no address holds."""
    try:
        header = default.header_factory("to", text)
        addresses = header.addresses
    except (HeaderParseError, IndexError, ValueError):  # IndexError on 'name@', ValueError on a line break in a part
        return None
    faults = [defect for defect in header.defects if not isinstance(defect, NonASCIILocalPartDefect)]
    if faults or len(addresses) != 1:
        return None
    found = addresses[0]
    if not (found.username and found.domain and found.username.isprintable()):
        return None
    return MailAddress(found.display_name, found.username, found.domain)


def _name_quoted(text: str) -> str:
    """'NAME <ADDRESS>' with NAME in double quotes; '' when ``text`` is not of that form (``_NAMED``)."""
    named = _NAMED.fullmatch(text)
    if not named or not named.group(1).isprintable():
        return ""
    return f'"{named.group(1)}" <{named.group(2)}>'


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
