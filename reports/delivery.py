"""Where a digest goes: an SMTP server, or the outbox folder (``.eml`` files and a browsable archive).

Both transports are context managers with ``send(message, recipient)``, the recipient as configured
(its domain goes out in IDNA, ``reports.address``; errors name it as written): it returns once the
message is accepted (the server said 250, or the file is in place) and raises otherwise, so the caller marks
a recipient delivered only after that, and only when the transport ``delivers``: files written while
SMTP is configured are copies, and the recipients still get the digest by SMTP. ``RecipientRefused``
concerns one recipient's message (the address, the message's size or content, an address the server
cannot take) and the connection stays usable; any other ``DeliveryError`` means the connection is gone.

The SMTP password is handed in by the application (from ``$OIHWATCH_SMTP_PASSWORD``) and never
appears in a message: smtplib's errors carry the server's reply, not the credentials, and credentials
smtplib cannot send are refused before connecting (``login_problem``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import smtplib
import ssl
from collections.abc import Iterator, Mapping
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from corpus.errors import DeliveryError
from reports.address import ADDRESS_ADVICE, login_problem, smtp_address
from reports.render import archive_index


class RecipientRefused(DeliveryError):
    """The server refused one recipient's message; the others can still be sent. ``permanent``: a
    retry would only meet the same refusal ("no such user", a message over the server's size limit);
    otherwise it may pass later (a 4xx reply, or a sender the operator can correct). ``reply``: the
    server's reply, when it refused the message for good at the end of DATA with codes that say
    neither sender nor size: the same refusal for every recipient concerns the sender or the message
    after all, so the caller compares them (``alike``) before marking any refused."""

    def __init__(self, message: str, permanent: bool = False, reply: str = ""):
        super().__init__(message)
        self.permanent = permanent
        self.reply = reply

    @property
    def alike(self) -> str:
        """The reply's code and its first word, the enhanced status code ('554 5.6.0'), by which one
        recipient's refusal is the same as another's: the rest of a reply often names the recipient or
        a queue ID."""
        return " ".join(self.reply.split()[:2])


def write_atomically(path: Path, data: bytes) -> None:
    """Write beside, then rename: a crash leaves the old file or the new one, never half of one. A write
    that fails (a full disk, an interrupt) removes its half-written temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):  # a folder it could not write has none to remove
            temporary.unlink(missing_ok=True)
        raise


class SmtpTransport:
    """Send through an SMTP server: ``security`` is 'starttls', 'ssl' or 'none' (loopback only)."""

    status = "sent"
    delivers = True

    def __init__(self, host: str, port: int, security: str = "starttls", username: str = "",
                 password: str | None = None, timeout: float = 30.0, tls_context: ssl.SSLContext | None = None):
        if username and (problem := login_problem(username, password or "")):
            raise DeliveryError(problem)
        self.host, self.port, self.security = host, port, security
        self.username, self._password, self.timeout = username, password, timeout
        self.tls_context = tls_context  # None: the system's trusted CAs, with host name checking
        self._connection: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"SMTP {self.host}:{self.port} ({self.security})"

    def __enter__(self) -> SmtpTransport:
        connection: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                connection = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                              context=self.tls_context or ssl.create_default_context())
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    connection.starttls(context=self.tls_context or ssl.create_default_context())
            if self.username:
                connection.login(self.username, self._password or "")
        except (smtplib.SMTPException, OSError) as exc:
            if connection is not None:
                connection.close()
            raise self._connect_error(exc) from None
        self._connection = connection
        return self

    def _connect_error(self, exc: Exception) -> DeliveryError:
        """One line saying what failed and what to do (smtplib's errors hold the server's reply, never the password)."""
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return DeliveryError(f"{self.where} refused the login of {self.username!r} ({exc.smtp_code}); "
                                 "check smtp.username and $OIHWATCH_SMTP_PASSWORD")
        return DeliveryError(f"cannot connect to {self.where}: {_said(exc)}; check [smtp] host, port, security and username, "
                             "then rerun (nothing was marked sent)")

    def __exit__(self, *exc) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                self._connection.close()
            self._connection = None

    def send(self, message: EmailMessage, recipient: str) -> None:
        if self._connection is None:
            raise DeliveryError(f"the connection to {self.where} is closed; rerun to send the rest")
        envelope = smtp_address(recipient)  # as the To: header has it: the domain in IDNA
        try:
            self._connection.send_message(message, to_addrs=[envelope])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(envelope, (0, b""))
            # RFC 5321 4.5.3.1.10: a 552 to RCPT is to be treated as temporary (servers send it for a full mailbox too)
            if 500 <= code < 600 and code != 552:
                raise RecipientRefused(f"{self.where} refused {recipient}: {code} {_text(reply)}; {ADDRESS_ADVICE}",
                                       permanent=True) from None
            raise RecipientRefused(f"{self.where} refused {recipient}: {code} {_text(reply)}") from None
        except smtplib.SMTPNotSupportedError:  # raised before MAIL FROM: the conversation is untouched
            raise self._needs_smtputf8(recipient) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            if self._connection.sock is None:  # smtplib closed it (a 421 reply, or the server hung up)
                raise self._lost(recipient, exc) from None
            raise self._refused(message, recipient, exc) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise self._lost(recipient, exc) from None

    def _lost(self, recipient: str, exc: Exception) -> DeliveryError:
        """The connection is gone: closed here, and nothing more can be sent over it."""
        self._connection.close()
        self._connection = None
        return DeliveryError(f"{self.where} failed while sending to {recipient}: {_said(exc)}; "
                             "rerun to send what is missing")

    def _refused(self, message: EmailMessage, recipient: str, exc: smtplib.SMTPResponseException) -> RecipientRefused:
        """A reply to MAIL FROM or to the end of DATA: it concerns this message, and smtplib has reset the
        transaction, so the next recipient is sent over the same connection."""
        code, reply = exc.smtp_code, _text(exc.smtp_error)
        said = f"{code} {reply}"
        status = _enhanced_status(reply)
        if code < 500 or status == "2.2":  # a 4xx, or a full mailbox (RFC 3463 X.2.2), may pass later
            return RecipientRefused(f"{self.where} refused the digest to {recipient} for now: {said}")
        if code == 552:  # RFC 1870: the message is over the server's size limit; the same digest always is
            return RecipientRefused(
                f"{self.where} refused the digest to {recipient} as too large ({len(wire_bytes(message)):,} bytes): "
                f"{said}; resending this digest cannot help: to fit the next one, lower digest.per_section or the "
                "recipient's topics, or have the server's size limit raised", permanent=True)
        if isinstance(exc, smtplib.SMTPSenderRefused):  # the sender, not this recipient: the same for every message
            return RecipientRefused(f"{self.where} refused the sender {exc.sender}: {said}; check smtp.sender "
                                    "(and that smtp.username may send as it), then rerun to send what is missing")
        if status.startswith("7.") or status in ("1.7", "1.8"):
            # RFC 3463: X.7.x is a policy's refusal, most often of the sender (Office 365's '5.7.60 ... send as
            # this sender', SPF, DMARC); X.1.7 and X.1.8 name the sender's address. The operator can correct it.
            return RecipientRefused(f"{self.where} refused the digest to {recipient} for now: {said}; this refusal "
                                    "concerns the sender or the server's policy: check smtp.sender (and that "
                                    "smtp.username may send as it), then rerun to send what is missing")
        return RecipientRefused(f"{self.where} refused the digest to {recipient}: {said}; resending this digest "
                                "cannot help (the reply says why); the next digest goes to them as usual",
                                permanent=True, reply=said)

    def _needs_smtputf8(self, recipient: str) -> RecipientRefused:
        """An address with non-ASCII letters before the @ needs the server's SMTPUTF8 extension (RFC 6531);
        a domain does not, as it goes out in IDNA (``reports.address``). A recipient's is refused for
        good; the sender's would refuse every message alike, so they stay pending until smtp.sender is
        corrected."""
        if smtp_address(recipient).isascii():
            return RecipientRefused(f"{self.where} does not offer SMTPUTF8, which the non-ASCII smtp.sender needs; "
                                    "give an ASCII address in smtp.sender, then rerun to send what is missing")
        return RecipientRefused(f"{self.where} cannot take {recipient}: non-ASCII letters before the @ need SMTPUTF8, "
                                "which this server does not offer; give an ASCII address for this recipient in "
                                "[[recipients]], or use a server that offers SMTPUTF8", permanent=True)


def _enhanced_status(reply: str) -> str:
    """The subject and detail of the enhanced status code a reply begins with (RFC 3463): '2.2' of
    '5.2.2' (a full mailbox), but '2.252' of '5.2.252' (Office 365's SendAsDenied); '' if it has none."""
    found = re.match(r"[245]\.(\d{1,3}\.\d{1,3})(?!\d)", reply)
    return found.group(1) if found else ""


def _text(reply: bytes | str) -> str:
    """A server's reply as text."""
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _said(exc: Exception) -> str:
    """What went wrong, as the server said it ('421 4.3.2 Service shutting down'): smtplib's str() of a
    reply is a tuple holding bytes, ``(421, b'4.3.2 Service shutting down')``."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


class OutboxTransport:
    """Write each message to ``<folder>/<period>/<recipient>.eml`` instead of sending it. The file is
    the delivery when no SMTP server is configured; with ``delivers=False`` it is a copy only."""

    status = "written"

    def __init__(self, folder: Path, delivers: bool = True):
        self.folder = Path(folder)
        self.delivers = delivers

    @property
    def where(self) -> str:
        return f"outbox {self.folder}"

    def __enter__(self) -> OutboxTransport:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def eml_path(self, message: EmailMessage, recipient: str) -> Path:
        period = re.search(r"oihwatch\.([^.]+)\.", message["Message-ID"] or "")
        folder = period.group(1) if period else "undated"
        return self.folder / folder / f"{eml_name(smtp_address(recipient))}.eml"

    def send(self, message: EmailMessage, recipient: str) -> None:
        try:
            write_atomically(self.eml_path(message, recipient), wire_bytes(message))
        except OSError as exc:
            raise OutboxUnwritable(self.folder, exc) from None


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as smtplib sends it: with its headers in UTF-8 (RFC 6532) when an address holds
    non-ASCII letters before the @, which only SMTPUTF8 carries. Written the default way, such an
    address became an encoded word, which no address may hold, and a mailto: link naming it in
    List-Unsubscribe failed to encode at all."""
    headers = [message[name] for name in ("From", "To") if name in message]
    international = any(not address.addr_spec.isascii() for header in headers for address in header.addresses)
    return message.as_bytes(policy=message.policy.clone(utf8=True)) if international else message.as_bytes()


def eml_name(address: str) -> str:
    """A file name for ``address``'s message: the address itself where it is safe in a file name, else
    with '_' for what is not and a hash of the whole, since 'dr.kim+oih@' and 'dr.kim_oih@' would
    otherwise share one file, the second recipient's message replacing the first's."""
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", address)
    return safe if safe == address else f"{safe}-{hashlib.sha256(address.encode('utf-8')).hexdigest()[:8]}"


# What a write that found no room fails with: a full disk, a quota, a file-size limit (ulimit -f).
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class OutboxUnwritable(DeliveryError):
    """An ``.eml`` file could not be written: the folder or the disk under it, not the message, so the
    recipients after it are not tried either. ``reason``: the system's words ('No space left on device')."""

    def __init__(self, folder: Path, exc: OSError):
        self.folder, self.reason = folder, exc.strerror or str(exc)
        fix = ("free space on its disk, then rerun to write what is missing" if exc.errno in NO_ROOM
               else "check digest.outbox or --outbox")
        super().__init__(f"cannot write to the outbox {folder}: {self.reason}; {fix}")


# A digest's page in the archive, in the order they are written: its chart, its subject (for the index),
# then the page itself.
PAGE_FILES = (".png", ".subject", ".html")


def write_archive_page(folder: Path, period: str, subject: str, html: str, chart_png: bytes) -> None:
    """Add (or replace) one digest page, its chart and its subject (for the index) in ``folder``. The index is
    written apart (``write_archive_index``), once after any number of pages: it reads every page's subject.
    The page comes last, so a write cut short (a full disk, a process killed) leaves no page pointing at a
    chart or subject that is not there."""
    with _archive_errors(folder):
        for suffix, data in zip(PAGE_FILES, (chart_png, subject.encode("utf-8"), html.encode("utf-8"))):
            write_atomically(folder / f"{period}{suffix}", data)


def archived(folder: Path, period: str) -> bool:
    """Whether ``folder`` holds the page of ``period`` with its chart and subject. A page without them (written
    first by earlier versions, before a chart or subject a full disk or a kill left out) counts as missing,
    so it is written again whole, and the index lists it by its subject."""
    return all((folder / f"{period}{suffix}").exists() for suffix in PAGE_FILES)


def write_archive_index(folder: Path, title: str, now: datetime, changed: Mapping[str, Mapping[str, int]]) -> Path:
    """Rewrite ``index.html`` listing every page in ``folder``, newest first; ``changed``: period -> papers of
    that digest retracted, corrected... since (``reports.gather.changed_since``, said beside it)."""
    with _archive_errors(folder):
        entries = [
            (page.name, _subject_of(page), changed.get(page.stem, {}))
            for page in sorted(folder.glob("*.html"), reverse=True)
            if page.name != "index.html"
        ]
        write_atomically(folder / "index.html", archive_index(entries, title, now).encode("utf-8"))
    return folder / "index.html"


@contextlib.contextmanager
def _archive_errors(folder: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise DeliveryError(f"cannot write the archive {folder}: {exc.strerror}; check digest.outbox") from None


def write_preview(folder: Path, period: str, text: str, html: str, chart_png: bytes) -> Path:
    """``<period>.html`` (with its chart) and ``<period>.txt`` in ``folder``; returns the HTML's path."""
    try:
        write_atomically(folder / f"{period}.png", chart_png)
        write_atomically(folder / f"{period}.txt", text.encode("utf-8"))
        write_atomically(folder / f"{period}.html", html.encode("utf-8"))
    except OSError as exc:
        raise DeliveryError(f"cannot write the preview to {folder}: {exc.strerror}; check digest.outbox or --outbox") from None
    return folder / f"{period}.html"


def _subject_of(page: Path) -> str:
    subject = page.with_suffix(".subject")
    return subject.read_text(encoding="utf-8") if subject.exists() else page.stem
