"""The ``email`` step: one message over SMTP, plain text and/or HTML (multipart/alternative).

The server is configuration more than workflow text (seed 002's executor loads its SMTP config once):
the operator's relay is ``ORCHESTRATOR_SMTP_HOST`` / ``_PORT`` / ``_SECURITY`` / ``_USERNAME`` /
``_PASSWORD`` / ``_FROM`` / ``_CA_FILE`` in the environment. A step that names no ``host`` sends through the relay, and
its own values win over the relay's for the other keys. A step that names its own ``host`` brings its
own server: none of the relay's settings apply, so the relay's credentials can never be sent elsewhere.

``template: name`` (seed 002) reads ``templates/<name>.yaml`` next to the workflow file, a mapping with
``subject`` / ``body`` / ``html``; its templates are rendered like the step's config, and the step's own
subject/body/html, when set, win over the file's. Bcc recipients go into the SMTP envelope only, never
into a header. The SMTP host is subject to the same egress policy as outbound HTTP (``egress.py``).
Delivery and error classification: ``smtp.py``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import os
import re
import smtplib
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import Field, SecretStr, ValidationError, model_validator

from orchestrator.domain import safe_yaml
from orchestrator.domain.durations import Duration
from orchestrator.steps import smtp
from orchestrator.steps.base import StepConfig, StepContext, StepError, StepResult
from orchestrator.steps.egress import EgressBoundExecutor
from orchestrator.steps.email_addresses import Address, Addresses, bare_address
from orchestrator.steps.limits import effective_timeout
from orchestrator.steps.redaction import scrub, secret_values

ENV_PREFIX = "ORCHESTRATOR_SMTP_"
#: config keys that fall back to ORCHESTRATOR_SMTP_<KEY>
SERVER_KEYS = ("host", "port", "security", "username", "password", "from", "ca_file")
#: how the relay is reached: only the operator sets these for it
RELAY_FIXED = frozenset({"port", "security", "verify", "ca_file"})
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class EmailConfig(StepConfig):
    host: str | None = Field(None, min_length=1, description="Default: env ORCHESTRATOR_SMTP_HOST.")
    port: int | None = Field(None, ge=1, le=65535, description="Default: env, else 587 starttls, 465 tls, 25.")
    security: smtp.Security = Field("starttls", description="Default: env ORCHESTRATOR_SMTP_SECURITY, else starttls.")
    username: str | None = None
    password: SecretStr | None = Field(None, description="Write {{secrets.name}}; default (no host given): "
                                       "env ORCHESTRATOR_SMTP_PASSWORD.")
    sender: Address | None = Field(None, alias="from", description="Default: env ORCHESTRATOR_SMTP_FROM.")
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


class EmailExecutor(EgressBoundExecutor):
    type_name: ClassVar[str] = "email"
    config_model: ClassVar[type[EmailConfig]] = EmailConfig

    def execute(self, config: EmailConfig, inputs: dict[str, Any], ctx: StepContext) -> StepResult:
        started = time.time()
        if config.ca_file and not ctx.trusted:
            # a path on the server's disk: opening it would tell a tenant which of the server's files exist
            raise StepError("Email.Forbidden", "ca_file names a file on the server: only the operator's workflows "
                            "may set it; the system's CAs are trusted by default", retryable=False)
        policy = self.egress_policy()
        uses_relay = config.host is None
        own = sorted(RELAY_FIXED & config.model_fields_set)
        if uses_relay and own and os.environ.get(ENV_PREFIX + "HOST"):
            # the relay's credentials go where port and security say: a tenant must not choose that
            raise StepError("Email.InvalidConfig", f"a step that sends through the operator's relay takes its "
                            f"{', '.join(own)} from the relay (ORCHESTRATOR_SMTP_*); name your own host to set them",
                            retryable=False)
        config = with_server_defaults(config)
        if uses_relay and config.host:
            # the operator's relay: reachable wherever it is (often localhost), and only it
            policy = policy.for_operator_endpoint(config.host)
        server = smtp.SmtpServer(
            host=config.host or "",
            port=config.port or smtp.DEFAULT_PORTS[config.security],
            security=config.security,
            timeout=effective_timeout(config.timeout, ctx) or config.timeout,
            username=config.username,
            password=config.password.get_secret_value() if config.password else None,
            verify=config.verify,
            ca_file=config.ca_file,
        )
        subject, body, html = _content(config, ctx)
        message = build_message(config, subject, body, html)
        recipients = list(dict.fromkeys(bare_address(a) for a in [*config.to, *config.cc, *config.bcc]))
        ctx.log(f"sending {message['Message-ID']} to {len(recipients)} recipient(s) via {server}")
        try:
            refused = smtp.send(server, message, bare_address(config.sender or ""), recipients, policy)
        except (smtplib.SMTPException, OSError) as exc:
            error = smtp.classify(exc)
            # the server's reply could echo what we sent; the password must not reach the cause
            cause = scrub(f"{server}: {error.cause}", secret_values(server.password), ctx.mask)
            raise StepError(error.error, cause, retryable=error.retryable) from None
        output = {
            "message_id": message["Message-ID"],
            "accepted": [r for r in recipients if r not in refused],
            "refused": {addr: smtp.reply_text(code, text) for addr, (code, text) in refused.items()},
            "sent_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        return StepResult(output=output, started_at=started, finished_at=time.time())


def with_server_defaults(config: EmailConfig) -> EmailConfig:
    """``config`` with the relay's settings (ORCHESTRATOR_SMTP_*) where it names no host of its own;
    ``Email.NotConfigured`` names what is still missing."""
    given = config.model_dump(by_alias=True, exclude_unset=True)
    # a step with its own host gets nothing of the relay: its username and password would go to that host
    defaults = {} if "host" in given else {
        key: os.environ[ENV_PREFIX + key.upper()] for key in SERVER_KEYS
        if os.environ.get(ENV_PREFIX + key.upper()) and key not in given}
    if defaults:
        merged = {**given, **defaults}
        if isinstance(merged.get("password"), SecretStr):
            merged["password"] = merged["password"].get_secret_value()
        try:
            config = EmailConfig.model_validate(merged)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
            raise StepError("Email.NotConfigured", f"with the {ENV_PREFIX}* defaults applied: {problems}",
                            retryable=False) from None
    missing = [f"{key} (or env {ENV_PREFIX}{key.upper()})" for key, value in
               (("host", config.host), ("from", config.sender)) if not value]
    if missing:
        raise StepError("Email.NotConfigured", f"no SMTP {' and no '.join(missing)}", retryable=False)
    return config


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
        data = safe_yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise StepError("Email.InvalidTemplate", f"template {path}: {exc}", retryable=False) from None
    if not isinstance(data, dict) or not set(data) <= {"subject", "body", "html"}:
        raise StepError("Email.InvalidTemplate", f"template {path}: expected a mapping of subject/body/html",
                        retryable=False)
    rendered = ctx.render(data)
    return rendered if isinstance(rendered, dict) else data


def build_message(config: EmailConfig, subject: str, body: str | None, html: str | None) -> EmailMessage:
    sender = config.sender or ""
    message = EmailMessage()
    message["From"] = sender
    if config.to:
        message["To"] = ", ".join(config.to)
    if config.cc:
        message["Cc"] = ", ".join(config.cc)
    # no Bcc header, on purpose: Bcc recipients are only in the envelope (smtp.send)
    if config.reply_to:
        message["Reply-To"] = ", ".join(config.reply_to)
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    domain = bare_address(sender).rpartition("@")[2] or None
    message["Message-ID"] = email.utils.make_msgid(domain=domain)
    if body is not None:
        message.set_content(body)
        if html is not None:
            message.add_alternative(html, subtype="html")
    else:
        message.set_content(html or "", subtype="html")
    return message
