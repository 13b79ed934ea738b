"""Durations: the text forms of seed 002 ("30s", "5m") and plain seconds become float seconds."""

from __future__ import annotations

import pytest

from orchestrator.domain.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("1d", 86400.0),
        ("1.5h", 5400.0),
        (" 2M ", 120.0),
        ("90", 90.0),
        (12, 12.0),
        (0.5, 0.5),
        (0, 0.0),
    ],
)
def test_accepted_forms_become_seconds(written, seconds):
    # Given a duration as a workflow writes it / When parsed / Then it is that many seconds
    assert parse_duration(written) == seconds


@pytest.mark.parametrize(
    "written", ["5 minutes", "m5", "1h 30m", "30x", "", "-5s", -1, True, None, [30], "nan", "inf"]
)
def test_bad_input_is_rejected_naming_the_value(written):
    # Given something that is not a duration / When parsed / Then the error names it and shows the forms
    with pytest.raises(DurationError) as raised:
        parse_duration(written)
    assert repr(written) in str(raised.value)


def test_the_error_shows_the_accepted_forms():
    # Given a unit that does not exist / When parsed / Then the message teaches the syntax
    with pytest.raises(
        DurationError, match=r"invalid duration '3 weeks': use a number of seconds or units like '30s'"
    ):
        parse_duration("3 weeks")


@pytest.mark.parametrize(
    ("seconds", "text"), [(90, "1m30s"), (0.25, "250ms"), (3600, "1h"), (5, "5s"), (86461, "1d1m1s")]
)
def test_format_duration_is_the_short_text(seconds, text):
    # Given seconds / When formatted for a message / Then the short form reads back to the same value
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("written", [10 ** 400, "1" + "0" * 400 + "s"])
def test_numbers_too_large_for_a_float_are_errors_not_crashes(written):
    # Given a duration of hundreds of digits / When parsed / Then a DurationError, not an OverflowError
    with pytest.raises(DurationError, match="too long|longer than|finite"):
        parse_duration(written)
