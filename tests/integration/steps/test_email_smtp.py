"""The email step against a real SMTP server (aiosmtpd on 127.0.0.1): plain, STARTTLS, implicit TLS, AUTH."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.settings import Settings
from orchestrator.steps.base import StepContext, StepError
from orchestrator.steps.email import EmailConfig, EmailExecutor
from support.local_http import closed_port
from support.smtp_server import Cert, SilentServer, SmtpServer, make_cert

# aiosmtpd warns when AUTH is allowed without STARTTLS; the implicit-TLS server is encrypted throughout
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PASSWORD = "pw-Sup3r-s3cret-value"


@pytest.fixture
def cert(tmp_path: Path) -> Cert:
    return make_cert(tmp_path)


@pytest.fixture
def plain_server() -> Iterator[SmtpServer]:
    server = SmtpServer(security="none").start()
    yield server
    server.stop()


@pytest.fixture
def starttls_server(cert: Cert) -> Iterator[SmtpServer]:
    server = SmtpServer(security="starttls", cert=cert, users={"bot": PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture
def tls_server(cert: Cert) -> Iterator[SmtpServer]:
    server = SmtpServer(security="tls", cert=cert, users={"bot": PASSWORD}).start()
    yield server
    server.stop()


def send(tmp_path: Path | None = None, **config: object) -> dict:
    ctx = StepContext(execution_id="exec-1", step_id="notify", workflow_dir=tmp_path, trusted=True)  # test CA files
    result = EmailExecutor().execute(EmailConfig.model_validate(config), {}, ctx)
    return result.output


def base(port: int, **extra: object) -> dict:
    return {"host": "127.0.0.1", "port": port, "security": "none", "from": "Orchestrator <bot@example.com>",
            "to": "admin@example.com", "subject": "Run finished", "body": "All good.", **extra}


def test_plain_message_is_delivered_with_headers_and_bcc_only_in_the_envelope(plain_server: SmtpServer) -> None:
    # Given a plain SMTP server and a message with to, cc, bcc and reply-to
    config = base(plain_server.port, to=["a@example.com", "B <b@example.com>"], cc="c@example.com",
                  bcc=["hidden@example.com"], reply_to="replies@example.com")

    # When the step sends it
    output = send(**config)

    # Then the server got one message for every recipient, bcc included in the envelope only
    [received] = plain_server.messages
    assert received.mail_from == "bot@example.com"
    assert received.rcpt_tos == ["a@example.com", "b@example.com", "c@example.com", "hidden@example.com"]
    message = received.message
    assert message["To"] == "a@example.com, B <b@example.com>"
    assert message["Cc"] == "c@example.com"
    assert message["Reply-To"] == "replies@example.com"
    assert message["Bcc"] is None and b"hidden@example.com" not in received.data
    assert message["Subject"] == "Run finished"
    assert message.get_content().strip() == "All good."
    # And the output names the message and who accepted it
    assert output["message_id"] == message["Message-ID"]
    assert output["message_id"].endswith("@example.com>")
    assert output["accepted"] == received.rcpt_tos
    assert output["refused"] == {}
    assert output["sent_at"].endswith("+00:00")


def test_text_and_html_make_a_multipart_alternative(plain_server: SmtpServer) -> None:
    # Given a body and an html part
    # When the step sends them
    send(**base(plain_server.port, html="<p>All <b>good</b>.</p>"))

    # Then the message is multipart/alternative with both parts
    message = plain_server.messages[0].message
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert parts["text/plain"].strip() == "All good."
    assert parts["text/html"].strip() == "<p>All <b>good</b>.</p>"


def test_html_only_message(plain_server: SmtpServer) -> None:
    # Given only an html part
    config = base(plain_server.port, html="<h1>Hi</h1>")
    del config["body"]
    # When it is sent
    send(**config)
    # Then the message is a single text/html part
    assert plain_server.messages[0].message.get_content_type() == "text/html"


def test_starttls_with_auth_trusting_the_test_ca(starttls_server: SmtpServer, cert: Cert) -> None:
    # Given a server that requires STARTTLS and AUTH, and a step trusting its self-signed certificate
    # (issued for localhost: the name is what TLS verifies)
    config = base(starttls_server.port, host="localhost", security="starttls", username="bot", password=PASSWORD,
                  ca_file=str(cert.cert_file))

    # When the step sends
    output = send(**config)

    # Then the message went over TLS, authenticated as the user
    [received] = starttls_server.messages
    assert received.tls and received.authenticated_as == "bot"
    assert output["accepted"] == ["admin@example.com"]


def test_implicit_tls_with_verification_off(tls_server: SmtpServer) -> None:
    # Given an implicit-TLS server with a self-signed certificate, and verify: false
    config = base(tls_server.port, security="tls", username="bot", password=PASSWORD, verify=False)
    # When the step sends
    send(**config)
    # Then the message arrived over TLS
    assert tls_server.messages[0].tls


def test_untrusted_certificate_is_not_retryable(starttls_server: SmtpServer) -> None:
    # Given a STARTTLS server whose certificate the system does not trust
    config = base(starttls_server.port, security="starttls", username="bot", password=PASSWORD)
    # When the step sends
    with pytest.raises(StepError) as caught:
        send(**config)
    # Then it fails as a TLS problem that a retry would not fix, saying how to trust the certificate
    assert caught.value.error == "Email.TLS" and not caught.value.retryable
    assert "ca_file" in caught.value.cause
    assert starttls_server.messages == []


def test_wrong_password_fails_not_retryable_without_the_password(starttls_server: SmtpServer, cert: Cert) -> None:
    # Given a wrong password
    wrong = "not-the-" + PASSWORD
    config = base(starttls_server.port, host="localhost", security="starttls", username="bot", password=wrong,
                  ca_file=str(cert.cert_file))
    # When the step sends
    with pytest.raises(StepError) as caught:
        send(**config)
    # Then it is an authentication failure, not retryable, and the password appears nowhere
    error = caught.value
    assert error.error == "Email.AuthFailed" and not error.retryable
    assert f"localhost:{starttls_server.port}" in error.cause
    assert wrong not in error.cause and wrong not in str(error)


def test_temporary_recipient_refusal_is_retryable(plain_server: SmtpServer) -> None:
    # Given a server that answers 450 for the only recipient
    plain_server.handler.rcpt_replies["admin@example.com"] = "450 4.2.1 mailbox busy"
    # When the step sends
    with pytest.raises(StepError) as caught:
        send(**base(plain_server.port))
    # Then the failure is retryable and names the reply
    assert caught.value.error == "Email.RecipientsRefused" and caught.value.retryable
    assert "450" in caught.value.cause


def test_permanent_recipient_refusal_is_not_retryable(plain_server: SmtpServer) -> None:
    # Given a server that answers 550 for the only recipient
    plain_server.handler.rcpt_replies["admin@example.com"] = "550 5.1.1 no such user"
    # When the step sends
    with pytest.raises(StepError) as caught:
        send(**base(plain_server.port))
    # Then the failure is final
    assert caught.value.error == "Email.RecipientsRefused" and not caught.value.retryable


def test_partly_refused_recipients_are_reported_not_failed(plain_server: SmtpServer) -> None:
    # Given one of two recipients refused
    plain_server.handler.rcpt_replies["gone@example.com"] = "550 5.1.1 no such user"
    # When the step sends
    output = send(**base(plain_server.port, to=["admin@example.com", "gone@example.com"]))
    # Then it succeeds for the other and reports the refusal
    assert output["accepted"] == ["admin@example.com"]
    assert output["refused"]["gone@example.com"].startswith("550")


@pytest.mark.parametrize(("reply", "retryable"), [("451 4.3.0 try again later", True), ("554 5.6.0 rejected", False)])
def test_data_reply_class_decides_retrying(plain_server: SmtpServer, reply: str, retryable: bool) -> None:
    # Given a server that refuses the message body with a 4xx or a 5xx
    plain_server.handler.data_reply = reply
    # When the step sends
    with pytest.raises(StepError) as caught:
        send(**base(plain_server.port))
    # Then 4xx is retryable and 5xx is not; the error is named by the code
    assert caught.value.error == f"Email.{reply[:3]}"
    assert caught.value.retryable is retryable


def test_connection_refused_is_retryable() -> None:
    # Given nothing listening on the port
    # When the step sends
    with pytest.raises(StepError) as caught:
        send(**base(closed_port()))
    # Then the failure is a retryable connection error naming the server
    assert caught.value.error == "Email.Connection" and caught.value.retryable
    assert "127.0.0.1" in caught.value.cause


def test_silent_server_times_out_retryably() -> None:
    # Given a server that accepts the connection and never greets
    silent = SilentServer()
    try:
        # When the step sends with a short timeout
        with pytest.raises(StepError) as caught:
            send(**base(silent.port, timeout="300ms"))
    finally:
        silent.stop()
    # Then it is a retryable timeout
    assert caught.value.error == "Email.Timeout" and caught.value.retryable


def test_named_template_next_to_the_workflow(plain_server: SmtpServer, tmp_path: Path) -> None:
    # Given templates/process_complete.yaml next to the workflow (seed 002's `template:`)
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "process_complete.yaml").write_text(
        "subject: Processing complete\nbody: The data was processed.\nhtml: <p>The data was processed.</p>\n"
    )
    config = base(plain_server.port, template="process_complete")
    del config["subject"], config["body"]
    # When the step sends
    send(tmp_path, **config)
    # Then subject and both parts come from the template
    message = plain_server.messages[0].message
    assert message["Subject"] == "Processing complete"
    assert message.get_content_type() == "multipart/alternative"


def test_missing_template_names_the_file(tmp_path: Path) -> None:
    # Given a template name with no file
    config = base(25, template="nope")
    del config["subject"], config["body"]
    # When the step runs
    with pytest.raises(StepError) as caught:
        send(tmp_path, **config)
    # Then the error names the template and where it was looked for
    assert caught.value.error == "Email.TemplateNotFound"
    assert "nope" in caught.value.cause and str(tmp_path) in caught.value.cause


def test_server_settings_from_the_environment(plain_server: SmtpServer, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the SMTP server configured by ORCHESTRATOR_SMTP_* and seed 002's step shape (to, subject, template)
    monkeypatch.setenv("ORCHESTRATOR_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ORCHESTRATOR_SMTP_PORT", str(plain_server.port))
    monkeypatch.setenv("ORCHESTRATOR_SMTP_SECURITY", "none")
    monkeypatch.setenv("ORCHESTRATOR_SMTP_FROM", "robot@example.com")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "process_complete.yaml").write_text("subject: Done\nbody: Processed.\n")
    # When the step sends
    send(tmp_path, to="admin@example.com", subject="数据处理完成", template="process_complete")
    # Then the environment's server and sender were used, the step's subject over the template's
    [received] = plain_server.messages
    assert received.mail_from == "robot@example.com"
    assert received.message["Subject"] == "数据处理完成"
    assert received.message.get_content().strip() == "Processed."


def test_relay_credentials_from_the_environment(starttls_server: SmtpServer, cert: Cert,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the operator's relay with its username and password in ORCHESTRATOR_SMTP_*
    for key, value in {"HOST": "localhost", "PORT": str(starttls_server.port), "SECURITY": "starttls",
                       "USERNAME": "bot", "PASSWORD": PASSWORD, "CA_FILE": str(cert.cert_file)}.items():
        monkeypatch.setenv(f"ORCHESTRATOR_SMTP_{key}", value)
    config = EmailConfig.model_validate({key: value for key, value in base(starttls_server.port).items()
                                         if key not in ("host", "port", "security")})
    # When a step that names no server sends
    EmailExecutor().execute(config, {}, StepContext(execution_id="e", step_id="notify", trusted=True))
    # Then it authenticated at the relay with the relay's credentials
    assert starttls_server.messages[0].authenticated_as == "bot"


def test_a_step_with_its_own_host_gets_none_of_the_relays_credentials(plain_server: SmtpServer,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a relay with credentials, and a step that points at another server (a listener of the attacker)
    monkeypatch.setenv("ORCHESTRATOR_SMTP_HOST", "relay.internal.example")
    monkeypatch.setenv("ORCHESTRATOR_SMTP_USERNAME", "relay-user")
    monkeypatch.setenv("ORCHESTRATOR_SMTP_PASSWORD", PASSWORD)
    # When the step sends through its own host
    send(**base(plain_server.port, security="none"))
    # Then that server saw no login: the relay's username and password never left for it
    [received] = plain_server.messages
    assert received.authenticated_as is None


def test_no_server_configured_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given neither a host nor ORCHESTRATOR_SMTP_HOST
    monkeypatch.delenv("ORCHESTRATOR_SMTP_HOST", raising=False)
    monkeypatch.delenv("ORCHESTRATOR_SMTP_FROM", raising=False)
    # When the step runs
    with pytest.raises(StepError) as caught:
        send(to="a@example.com", subject="s", body="b")
    # Then the error says which settings are missing and where they may come from
    assert caught.value.error == "Email.NotConfigured" and not caught.value.retryable
    assert "ORCHESTRATOR_SMTP_HOST" in caught.value.cause and "ORCHESTRATOR_SMTP_FROM" in caught.value.cause


def test_egress_policy_applies_to_the_smtp_host(plain_server: SmtpServer) -> None:
    # Given an egress allow list that does not include the SMTP server
    executor = EmailExecutor(settings=Settings(egress_allow=["smtp.example.com"]))
    config = EmailConfig.model_validate(base(plain_server.port))
    # When the step sends
    with pytest.raises(StepError) as caught:
        executor.execute(config, {}, StepContext(execution_id="e", step_id="notify"))
    # Then the connection is refused by policy, not retryable, and nothing was delivered
    assert caught.value.error == "Egress.Denied" and not caught.value.retryable
    assert plain_server.messages == []
