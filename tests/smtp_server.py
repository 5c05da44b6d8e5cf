"""A real SMTP server on loopback (aiosmtpd) that records what it accepted, for delivery tests.

Switches: ``refuse`` answers 550 (for good) to the given recipients, ``busy`` 450 (try later),
``full`` 552 (a full mailbox; RFC 5321 has a 552 to RCPT treated as temporary);
``drop_after`` closes the connection
instead of accepting the message after that many messages were accepted. ``raw`` keeps the bytes
of each accepted message as they came over the wire.
"""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller


class RecordingHandler:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.raw: list[bytes] = []
        self.refuse: set[str] = set()
        self.busy: set[str] = set()
        self.full: set[str] = set()
        self.drop_after: int | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address in self.busy:
            return f"450 4.2.1 <{address}>: mailbox busy, try again later"
        if address in self.full:
            return f"552 5.2.2 <{address}>: mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop_after is not None and len(self.messages) >= self.drop_after:
            server.transport.close()
            return "421 closing connection"
        message = email.message_from_bytes(envelope.original_content, policy=default)
        self.messages.append((list(envelope.rcpt_tos), message))
        self.raw.append(envelope.original_content)
        return "250 Message accepted"

    def received_by(self, address: str) -> list[EmailMessage]:
        return [message for rcpts, message in self.messages if address in rcpts]


class _PortZeroController(Controller):
    """aiosmtpd checks readiness by connecting to ``self.port``; with port 0 that is the bound one."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class LoopbackSmtp:
    """``with LoopbackSmtp() as smtp:`` then ``smtp.port``, ``smtp.handler``.

    ``server_options`` go to aiosmtpd's ``Controller`` (e.g. ``tls_context``, ``require_starttls``,
    ``authenticator``, ``ssl_context``).
    """

    def __init__(self, **server_options) -> None:
        self.handler = RecordingHandler()
        self.controller = _PortZeroController(self.handler, hostname="127.0.0.1", port=0, **server_options)

    @property
    def port(self) -> int:
        return self.controller.port

    def __enter__(self) -> LoopbackSmtp:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
