"""The ``email`` step: one message over SMTP (std-lib ``smtplib``), plain text and/or HTML.

Bcc recipients go into the SMTP envelope only, never into a header. SMTP's own classes decide retrying:
4xx replies and connection failures or timeouts are transient; 5xx replies, authentication failures and
TLS problems (a wrong port or an untrusted certificate) will fail the same way again.

``template: name`` (seed 002) reads ``templates/<name>.yaml`` next to the workflow file, a mapping with
``subject`` / ``body`` / ``html``; its templates are rendered like the step's config, and the step's own
subject/body/html, when set, win over the file's.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import smtplib
import ssl
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import Field, SecretStr, model_validator

from orchestrator.domain.durations import Duration
from orchestrator.steps.base import StepConfig, StepContext, StepError, StepResult
from orchestrator.steps.email_addresses import Address, Addresses, bare_address
from orchestrator.steps.limits import effective_timeout
from orchestrator.steps.redaction import scrub, secret_values

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class EmailConfig(StepConfig):
    host: str = Field(min_length=1)
    port: int | None = Field(None, ge=1, le=65535, description="Default: 587 starttls, 465 tls, 25 none.")
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = Field(None, description="Write {{secrets.name}}.")
    sender: Address = Field(alias="from")
    to: Addresses = Field(default_factory=list)
    cc: Addresses = Field(default_factory=list)
    bcc: Addresses = Field(default_factory=list)
    reply_to: Addresses = Field(default_factory=list)
    subject: str | None = None
    body: str | None = Field(None, description="Plain-text part.")
    html: str | None = Field(None, description="HTML part; with `body` the message is multipart/alternative.")
    template: str | None = Field(None, description="Name of templates/<name>.yaml next to the workflow.")
    timeout: Duration = 30.0
    verify: bool = Field(True, description="Verify the server's TLS certificate.")
    ca_file: str | None = Field(None, description="PEM file of CAs to trust instead of the system's.")

    @model_validator(mode="after")
    def _check(self) -> EmailConfig:
        if not (self.to or self.cc or self.bcc):
            raise ValueError("no recipient: set `to`, `cc` or `bcc`")
        if self.template is None:
            if self.subject is None:
                raise ValueError("set `subject` (or `template`)")
            if self.body is None and self.html is None:
                raise ValueError("set `body` and/or `html` (or `template`)")
        elif not _TEMPLATE_NAME.match(self.template):
            raise ValueError(f"template {self.template!r} is not a plain name")
        if self.subject is not None and ("\r" in self.subject or "\n" in self.subject):
            raise ValueError("subject must be one line")
        if self.password is not None and self.username is None:
            raise ValueError("`password` needs `username`")
        if self.username is not None and self.security == "none":
            raise ValueError("refusing to send credentials unencrypted: use security starttls or tls")
        return self


class EmailExecutor:
    type_name: ClassVar[str] = "email"
    config_model: ClassVar[type[EmailConfig]] = EmailConfig

    def execute(self, config: EmailConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        started = time.time()
        subject, body, html = _content(config, ctx)
        message = build_message(config, subject, body, html)
        recipients = list(dict.fromkeys(bare_address(a) for a in [*config.to, *config.cc, *config.bcc]))
        port = config.port or DEFAULT_PORTS[config.security]
        where = f"SMTP {config.host}:{port} ({config.security})"
        timeout = effective_timeout(config.timeout, ctx) or config.timeout
        ctx.log(f"sending {message['Message-ID']} to {len(recipients)} recipient(s) via {where}")
        try:
            refused = _send(config, port, timeout, message, recipients)
        except (smtplib.SMTPException, OSError) as exc:
            error = classify(exc)
            # the server's reply could echo what we sent; the password must not reach the cause
            error.cause = scrub(f"{where}: {error.cause}", secret_values(config.password), ctx.mask)
            raise StepError(error.error, error.cause, retryable=error.retryable) from None
        output = {
            "message_id": message["Message-ID"],
            "accepted": [r for r in recipients if r not in refused],
            "refused": {addr: _reply_text(code, text) for addr, (code, text) in refused.items()},
            "sent_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        return StepResult(output=output, started_at=started, finished_at=time.time())


def _content(config: EmailConfig, ctx: StepContext) -> tuple[str, str | None, str | None]:
    """Subject, plain body and HTML body: the step's own values over the named template's."""
    parts: dict[str, Any] = {}
    if config.template is not None:
        parts = _load_template(config.template, ctx)
    subject = config.subject if config.subject is not None else parts.get("subject")
    body = config.body if config.body is not None else parts.get("body")
    html = config.html if config.html is not None else parts.get("html")
    if not isinstance(subject, str) or "\r" in subject or "\n" in subject:
        raise StepError("Email.InvalidTemplate", f"template {config.template!r} gives no one-line subject",
                        retryable=False)
    if not isinstance(body, str | None) or not isinstance(html, str | None) or (body is None and html is None):
        raise StepError("Email.InvalidTemplate", f"template {config.template!r} gives no text body or html",
                        retryable=False)
    return subject, body, html


def _load_template(name: str, ctx: StepContext) -> dict[str, Any]:
    if ctx.workflow_dir is None:
        raise StepError("Email.TemplateNotFound", f"template {name!r}: the workflow has no directory", retryable=False)
    directory = Path(ctx.workflow_dir) / "templates"
    path = next((directory / f"{name}{s}" for s in (".yaml", ".yml") if (directory / f"{name}{s}").is_file()), None)
    if path is None:
        raise StepError("Email.TemplateNotFound", f"template {name!r}: no {directory}/{name}.yaml", retryable=False)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise StepError("Email.InvalidTemplate", f"template {path}: {exc}", retryable=False) from None
    if not isinstance(data, dict) or not set(data) <= {"subject", "body", "html"}:
        raise StepError("Email.InvalidTemplate", f"template {path}: expected a mapping of subject/body/html",
                        retryable=False)
    rendered = ctx.render(data)
    return rendered if isinstance(rendered, dict) else data


def build_message(config: EmailConfig, subject: str, body: str | None, html: str | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config.sender
    if config.to:
        message["To"] = ", ".join(config.to)
    if config.cc:
        message["Cc"] = ", ".join(config.cc)
    # no Bcc header, on purpose: Bcc recipients are only in the envelope (see _send)
    if config.reply_to:
        message["Reply-To"] = ", ".join(config.reply_to)
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    domain = bare_address(config.sender).rpartition("@")[2]
    message["Message-ID"] = email.utils.make_msgid(domain=domain)
    if body is not None:
        message.set_content(body)
        if html is not None:
            message.add_alternative(html, subtype="html")
    else:
        message.set_content(html or "", subtype="html")
    return message


def _tls_context(config: EmailConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.ca_file)
    if not config.verify:  # a test or internal relay with a self-signed certificate, by explicit choice
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _send(
    config: EmailConfig, port: int, timeout: float, message: EmailMessage, recipients: list[str]
) -> dict[str, tuple[int, bytes]]:
    """Deliver ``message``; the recipients the server refused (all refused raises)."""
    smtp: smtplib.SMTP
    if config.security == "tls":
        smtp = smtplib.SMTP_SSL(config.host, port, timeout=timeout, context=_tls_context(config))
    else:
        smtp = smtplib.SMTP(config.host, port, timeout=timeout)
    try:
        smtp.ehlo()
        if config.security == "starttls":
            smtp.starttls(context=_tls_context(config))
            smtp.ehlo()
        if config.username is not None:
            smtp.login(config.username, config.password.get_secret_value() if config.password else "")
        refused = smtp.send_message(message, from_addr=bare_address(config.sender), to_addrs=recipients)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()  # the message is already accepted or the error raised; only the socket is left
    return refused


def _reply_text(code: int, text: bytes | str) -> str:
    return f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"


def classify(exc: BaseException) -> StepError:
    """An smtplib/socket failure as a StepError; 4xx and network trouble are retryable, 5xx are not."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return StepError("Email.AuthFailed", f"login refused: {_reply_text(exc.smtp_code, exc.smtp_error)}",
                         retryable=False)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return StepError("Email.NotSupported", f"the server does not support it: {exc}", retryable=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = {addr: _reply_text(code, text) for addr, (code, text) in exc.recipients.items()}
        transient = any(400 <= code < 500 for code, _ in exc.recipients.values())
        return StepError("Email.RecipientsRefused", f"every recipient was refused: {replies}", retryable=transient)
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        transient = 400 <= code < 500 or isinstance(exc, smtplib.SMTPConnectError)
        return StepError(f"Email.{code}", f"{type(exc).__name__}: {_reply_text(code, exc.smtp_error)}",
                         retryable=transient)
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
        return StepError("Email.TLS", f"TLS failed ({exc.reason or exc}); does `security` match the port?",
                         retryable=False)
    return StepError("Email.Connection", f"cannot connect: {type(exc).__name__}: {exc}", retryable=True)
