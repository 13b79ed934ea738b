"""Secret scrubbing and JSON-safe outputs."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid

from pydantic import SecretStr

from orchestrator.steps.json_safe import json_safe
from orchestrator.steps.redaction import scrub, secret_values, url_for_humans


def test_secrets_and_url_passwords_are_masked() -> None:
    text = "failed with key sk-long-key (prefix sk-long) at postgresql://app:pw@db:5432/app"
    scrubbed = scrub(text, secret_values(SecretStr("sk-long"), "sk-long-key", None))
    assert scrubbed == "failed with key *** (prefix ***) at postgresql://app:***@db:5432/app"


def test_the_mask_runs_after_scrubbing() -> None:
    assert scrub("a b", mask=lambda t: t.upper()) == "A B"


def test_url_for_humans() -> None:
    assert url_for_humans("mongodb://u:secret@h/db") == "mongodb://u:***@h/db"
    assert url_for_humans("sqlite:///x.db") == "sqlite:///x.db"


def test_json_safe_values() -> None:
    value = {"at": dt.datetime(2024, 1, 2, 3, 4, 5), "d": dt.date(2024, 1, 2), "n": decimal.Decimal("2"),
             "f": decimal.Decimal("2.5"), "b": b"\x00\x01", "u": uuid.UUID(int=1), "t": (1, {2}), 3: None}
    assert json_safe(value) == {"at": "2024-01-02T03:04:05", "d": "2024-01-02", "n": 2, "f": 2.5, "b": "AAE=",
                                "u": "00000000-0000-0000-0000-000000000001", "t": [1, [2]], "3": None}
