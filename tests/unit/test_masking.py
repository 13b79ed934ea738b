"""The Masker and the log hook that keeps registered secrets out of the Powertools logger's output."""

from __future__ import annotations

import io
import json
import logging
import threading

from aws_lambda_powertools import Logger

from orchestrator.masking import Masker, install_log_masking


def test_registered_values_are_masked_longest_first():
    # Given two secrets, one containing the other
    masker = Masker(["abcd", "abcdefgh"])
    # When a text holds both / Then the longer is masked whole, then the shorter
    assert masker.mask("x abcdefgh y abcd z") == "x *** y *** z"


def test_short_values_are_not_registered():
    # Given values below the minimum length / When registered / Then they do not garble text
    masker = Masker(["ab", "xyz", ""])
    assert len(masker) == 0 and masker.mask("ab xyz") == "ab xyz"
    assert Masker(["xyz"], min_length=3).mask("a xyz") == "a ***"


def test_json_escaped_forms_are_masked():
    # Given a secret with characters JSON escapes / When it appears inside JSON text / Then masked too
    secret = 'p"ss\\wörd'
    masker = Masker([secret])
    assert secret not in masker.mask(json.dumps({"v": secret})).replace("***", "")
    assert masker.mask(json.dumps({"v": secret})) == '{"v": "***"}'
    assert masker.mask(json.dumps({"v": secret}, ensure_ascii=False)) == '{"v": "***"}'


def test_regex_characters_in_secrets_are_literal():
    masker = Masker(["a.b*c+(d)"])
    assert masker.mask("a.b*c+(d) aXbbbc") == "*** aXbbbc"


def test_mask_value_walks_json_like_values():
    masker = Masker(["s3cr3t!"])
    assert masker.mask_value({"a": ["x s3cr3t!", 1, None], "b": {"c": "s3cr3t!"}}) == {"a": ["x ***", 1, None], "b": {"c": "***"}}


def test_concurrent_adds_and_masks_are_safe():
    # Given threads registering and masking at once / Then every registered value ends up masked
    masker = Masker()
    values = [f"secret-{i:04d}" for i in range(100)]

    def add_all(chunk):
        for value in chunk:
            masker.add(value)
            masker.mask(value)

    threads = [threading.Thread(target=add_all, args=(values[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(masker.mask(v) == "***" for v in values)


def test_powertools_logger_never_prints_a_registered_secret():
    # Given a Powertools logger writing JSON to a buffer, with masking installed
    stream = io.StringIO()
    logger = Logger(service="mask-test", logger_handler=logging.StreamHandler(stream))
    masker = Masker()
    install_log_masking(logger, masker)
    install_log_masking(logger, masker)  # twice is harmless
    masker.add("tok-123456")
    logger.append_keys(request="r1")  # Powertools still reaches its formatter
    # When the secret is logged in the message, an extra field and an exception
    logger.info("calling with tok-123456", extra={"header": "Bearer tok-123456"})
    try:
        raise ValueError("bad token tok-123456")
    except ValueError:
        logger.exception("failed")
    # Then no line holds it, and the lines are still JSON
    text = stream.getvalue()
    assert "tok-123456" not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["message"] == "calling with ***" and lines[0]["header"] == "Bearer ***" and lines[0]["request"] == "r1"
    assert "bad token ***" in lines[1]["exception"]


def test_standard_logger_is_masked_too():
    stream = io.StringIO()
    std = logging.getLogger("orchestrator.test.masking")
    std.addHandler(logging.StreamHandler(stream))
    std.propagate = False
    install_log_masking(std, Masker(["pa55word"]))
    std.warning("login with %s", "pa55word")
    assert stream.getvalue() == "login with ***\n"


def test_encoded_forms_of_a_secret_are_masked():
    import base64
    from urllib.parse import quote

    # Given a registered secret
    secret = "p@ss/w0rd+long-enough"
    masker = Masker([secret])
    raw = secret.encode()
    # When it shows up encoded: base64 alone (both alphabets), inside a longer base64 text at every
    # alignment, hex either case, URL-encoded
    standalone = [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(), raw.hex(),
                  raw.hex().upper(), quote(secret, safe="")]
    embedded = [base64.b64encode(prefix + raw + b"-tail").decode() for prefix in (b"", b"a", b"ab")]
    # Then standalone forms are masked whole, and each embedded one loses the secret's own characters
    assert [masker.mask(form) for form in standalone] == ["***"] * len(standalone)
    for text in embedded:
        masked = masker.mask(text)
        assert "***" in masked and len(masked) < len(text) - 10


def test_short_base64_runs_are_not_masked_in_unrelated_text():
    # Given a short secret whose base64 core would be tiny / When unrelated base64 passes through
    masker = Masker(["abcd"])
    # Then only the secret itself and its whole encodings are masked, not chance fragments
    assert masker.mask("ZZZZ YWJjZA== abcd") == "ZZZZ *** ***"


def test_secrets_used_as_keys_are_masked_too():
    # Given a value whose keys hold a secret (a script returned {secret: 1})
    masked = Masker(["TopSecretValue123"]).mask_value({"TopSecretValue123": 1, "ok": ["TopSecretValue123"]})
    # Then neither the key nor the value shows it
    assert masked == {"***": 1, "ok": ["***"]}
