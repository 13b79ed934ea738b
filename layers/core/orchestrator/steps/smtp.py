"""SMTP delivery for the ``email`` step (std-lib ``smtplib``) and how its failures are classified.

SMTP's reply classes decide retrying: 4xx replies and connection failures or timeouts are transient;
5xx replies, authentication failures and TLS problems (a wrong port or an untrusted certificate) fail
the same way again.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal

from orchestrator.steps.base import StepError
from orchestrator.steps.egress import EgressPolicy

Security = Literal["starttls", "tls", "none"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Security
    timeout: float
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify: bool = True
    ca_file: str | None = None

    def __str__(self) -> str:
        return f"SMTP {self.host}:{self.port} ({self.security})"

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if not self.verify:  # a test or internal relay with a self-signed certificate, by explicit choice
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _guarded_socket(smtp: smtplib.SMTP, policy: EgressPolicy, host: str, port: int, timeout: float) -> socket.socket:
    """Resolve ``host`` once, let the egress policy judge every address, connect to a checked one: the
    same rule as outbound HTTP (``egress.py``), with no second lookup for DNS rebinding to slip into."""
    last_error: OSError | None = None
    for address in policy.resolve(host, port):
        try:
            return socket.create_connection((address, port), timeout, smtp.source_address)
        except OSError as exc:
            last_error = exc
    assert last_error is not None
    raise last_error


class _GuardedSMTP(smtplib.SMTP):
    def __init__(self, policy: EgressPolicy, host: str, port: int, timeout: float) -> None:
        self._policy = policy
        super().__init__(host, port, timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return _guarded_socket(self, self._policy, host, port, timeout)


class _GuardedSMTPSSL(smtplib.SMTP_SSL):
    def __init__(self, policy: EgressPolicy, host: str, port: int, timeout: float, context: ssl.SSLContext) -> None:
        self._policy = policy
        super().__init__(host, port, timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = _guarded_socket(self, self._policy, host, port, timeout)
        # the certificate is checked against the name the step gave, not the address connected to
        return self.context.wrap_socket(sock, server_hostname=self._host)


def send(server: SmtpServer, message: EmailMessage, sender: str, recipients: list[str],
         policy: EgressPolicy) -> dict[str, tuple[int, bytes]]:
    """Deliver ``message`` to ``recipients`` (the envelope: Bcc lives only here). Returns the recipients
    the server refused; raises smtplib/socket errors (see ``classify``) when nothing was accepted, and
    ``EgressDenied`` when the policy refuses the host."""
    smtp: smtplib.SMTP
    if server.security == "tls":
        smtp = _GuardedSMTPSSL(policy, server.host, server.port, server.timeout, server.tls_context())
    else:
        smtp = _GuardedSMTP(policy, server.host, server.port, server.timeout)
    try:
        smtp.ehlo()
        if server.security == "starttls":
            smtp.starttls(context=server.tls_context())
            smtp.ehlo()
        if server.username is not None:
            smtp.login(server.username, server.password or "")
        return smtp.send_message(message, from_addr=sender, to_addrs=recipients)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()  # the message is already accepted or the error raised; only the socket is left


def reply_text(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"


def classify(exc: BaseException) -> StepError:
    """An smtplib/socket failure as a StepError; 4xx and network trouble are retryable, 5xx are not."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return StepError("Email.AuthFailed", f"login refused: {reply_text(exc.smtp_code, exc.smtp_error)}",
                         retryable=False)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return StepError("Email.NotSupported", f"the server does not support it: {exc}", retryable=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = {addr: reply_text(code, text) for addr, (code, text) in exc.recipients.items()}
        transient = any(400 <= code < 500 for code, _ in exc.recipients.values())
        return StepError("Email.RecipientsRefused", f"every recipient was refused: {replies}", retryable=transient)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        transient = 400 <= code < 500 or isinstance(exc, smtplib.SMTPConnectError)
        return StepError(f"Email.{code}", f"{type(exc).__name__}: {reply_text(code, exc.smtp_error)}",
                         retryable=transient)
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError):
        # smtplib reports a reply that never came as a disconnect; the socket timeout is its context
        return StepError("Email.Timeout", f"no answer in time: {exc}", retryable=True)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return StepError("Email.Connection", f"the server closed the connection: {exc}", retryable=True)
    if isinstance(exc, smtplib.SMTPException):
        return StepError("Email.Error", f"{type(exc).__name__}: {exc}", retryable=False)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return StepError("Email.TLS", f"the server's certificate is not trusted ({exc.verify_message}); "
                         "set ca_file, or verify: false for a test relay", retryable=False)
    if isinstance(exc, TimeoutError):
        return StepError("Email.Timeout", f"no answer in time: {exc}", retryable=True)
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or exc
        return StepError("Email.TLS", f"TLS failed ({reason}); does `security` match the port?", retryable=False)
    return StepError("Email.Connection", f"cannot connect: {type(exc).__name__}: {exc}", retryable=True)
