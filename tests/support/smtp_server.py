"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the email step's tests: plain, STARTTLS, implicit TLS,
with or without AUTH, and a self-signed certificate for ``localhost`` made on the spot.

    server = SmtpServer(security="starttls", cert=make_cert(tmp_path), users={"bot": "s3cret"}).start()
    server.port, server.messages[0].message["Subject"], server.messages[0].rcpt_tos
    server.handler.rcpt_replies["busy@example.com"] = "450 4.2.1 mailbox busy"
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from support.tls import self_signed


@dataclass
class Cert:
    cert_file: Path  # what a client trusts (the step's ca_file)
    server_context: ssl.SSLContext


def make_cert(directory: Path) -> Cert:
    """A self-signed certificate for ``localhost`` (tests/support/tls.py), served by the SMTP server."""
    server_context, _client_context = self_signed(directory, "localhost")
    return Cert(cert_file=directory / "localhost.crt", server_context=server_context)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage
    authenticated_as: str | None
    tls: bool


@dataclass
class RecordingHandler:
    messages: list[Received] = field(default_factory=list)
    #: recipient -> reply ("450 ..." / "550 ...") instead of accepting it
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    #: reply to DATA instead of "250 OK" (e.g. "451 try again later")
    data_reply: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        data = envelope.original_content or envelope.content
        self.messages.append(Received(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            data=data,
            message=email.message_from_bytes(data, policy=email.policy.default),  # type: ignore[arg-type]
            authenticated_as=session.auth_data if session.authenticated else None,
            # session.ssl is only set by STARTTLS; an implicit-TLS transport carries its ssl_object
            tls=session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
        ))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    def __init__(self, *, security: str = "none", cert: Cert | None = None,
                 users: dict[str, str] | None = None) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self.users = users
        kwargs: dict[str, Any] = {}
        if security == "starttls":
            assert cert is not None
            kwargs.update(tls_context=cert.server_context, require_starttls=True)
        elif security == "tls":
            assert cert is not None
            kwargs.update(ssl_context=cert.server_context)
        if users is not None:
            # AUTH required before MAIL, and only over TLS; aiosmtpd only sees STARTTLS as TLS, so with
            # implicit TLS (where the whole connection is encrypted) its own check must be off
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=security != "tls")
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users is not None and self.users.get(login) == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class SilentServer:
    """Accepts TCP connections and never says a word: an SMTP peer that makes clients time out."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def stop(self) -> None:
        self.sock.close()
