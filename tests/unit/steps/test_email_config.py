"""The email step's config: addresses, required parts, unsafe combinations; its message and error classes."""

from __future__ import annotations

import smtplib
import ssl

import pytest
from pydantic import ValidationError

from orchestrator.steps.email import EmailConfig, build_message
from orchestrator.steps.email_addresses import parse_addresses
from orchestrator.steps.smtp import classify

BASE = {"host": "smtp.example.com", "from": "bot@example.com", "to": "a@example.com", "subject": "s", "body": "b"}


def test_addresses_from_a_string_or_a_list_keep_display_names() -> None:
    # Given addresses as a comma-separated string (with a quoted comma) and as a list
    # Then both give the same validated list
    assert parse_addresses('a@example.com, "Doe, Jane" <jane@example.com>') == [
        "a@example.com", '"Doe, Jane" <jane@example.com>']
    assert parse_addresses(["a@example.com", "B <b@example.com>"]) == ["a@example.com", "B <b@example.com>"]


@pytest.mark.parametrize("bad", ["not-an-address", "a@", "a b@example.com", "a@example.com\r\nBcc: x@evil.com",
                                 "a@@example.com", ["ok@example.com", 42]])
def test_invalid_addresses_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_addresses(bad)


def test_seed_shape_validates_without_server_settings() -> None:
    # Given seed 002's email step (server settings come from the environment at run time)
    config = EmailConfig.model_validate({"to": "admin@example.com", "subject": "数据处理完成",
                                         "template": "process_complete"})
    # Then it is valid and the defaults apply
    assert config.host is None and config.security == "starttls" and config.template == "process_complete"


@pytest.mark.parametrize(("change", "message"), [
    ({"to": []}, "no recipient"),
    ({"subject": None}, "subject"),
    ({"body": None}, "body"),
    ({"subject": "two\nlines"}, "one line"),
    ({"password": "x"}, "needs `username`"),
    ({"security": "none", "username": "u", "password": "p"}, "unencrypted"),
    ({"template": "../etc/passwd"}, "plain name"),
    ({"security": "ssl"}, "starttls"),
    ({"timeout": "soon"}, "duration"),
])
def test_config_mistakes_are_reported(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EmailConfig.model_validate({**BASE, **change})


def test_password_never_shows_in_the_config_repr() -> None:
    config = EmailConfig.model_validate({**BASE, "username": "u", "password": "Hunter2-secret"})
    assert "Hunter2-secret" not in repr(config) and "Hunter2-secret" not in str(config.model_dump())


def test_message_has_no_bcc_header() -> None:
    # Given bcc recipients
    config = EmailConfig.model_validate({**BASE, "bcc": "hidden@example.com", "cc": "c@example.com"})
    # When the message is built
    message = build_message(config, "s", "b", None)
    # Then no header names the bcc recipient
    assert message["Bcc"] is None and "hidden@example.com" not in message.as_string()
    assert message["Cc"] == "c@example.com" and message["Message-ID"].endswith("@example.com>")


@pytest.mark.parametrize(("exc", "error", "retryable"), [
    (smtplib.SMTPAuthenticationError(535, b"bad credentials"), "Email.AuthFailed", False),
    (smtplib.SMTPAuthenticationError(454, b"temporary auth failure"), "Email.AuthFailed", False),
    (smtplib.SMTPSenderRefused(451, b"try later", "a@example.com"), "Email.451", True),
    (smtplib.SMTPSenderRefused(553, b"not allowed", "a@example.com"), "Email.553", False),
    (smtplib.SMTPDataError(452, b"storage"), "Email.452", True),
    (smtplib.SMTPConnectError(554, b"go away"), "Email.554", True),
    (smtplib.SMTPRecipientsRefused({"a@x.io": (550, b"no"), "b@x.io": (450, b"busy")}), "Email.RecipientsRefused", True),
    (smtplib.SMTPNotSupportedError("STARTTLS extension not supported"), "Email.NotSupported", False),
    (smtplib.SMTPServerDisconnected("gone"), "Email.Connection", True),
    (ConnectionRefusedError(111, "refused"), "Email.Connection", True),
    (TimeoutError("timed out"), "Email.Timeout", True),
    (ssl.SSLError(1, "wrong version number"), "Email.TLS", False),
])
def test_failures_are_classified(exc: BaseException, error: str, retryable: bool) -> None:
    classified = classify(exc)
    assert (classified.error, classified.retryable) == (error, retryable)
