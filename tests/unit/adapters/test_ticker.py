"""The local cron ticker: ticks at once and then every interval, survives callback errors, stops at once."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.adapters.local.ticker import Ticker
from orchestrator.settings import Settings

WAIT = 5.0  # seconds; only reached when something is broken
START = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)


def stepping_clock(step: timedelta = timedelta(seconds=5)):
    """A clock that moves ``step`` per reading: START, START+step, ..."""
    readings = (START + step * index for index in itertools.count())
    return lambda: next(readings)


class Ticks:
    """A callback that records ``now`` and sets an event once it has seen ``wanted`` ticks."""

    def __init__(self, wanted: int = 1) -> None:
        self.wanted = wanted
        self.seen: list[datetime] = []
        self.enough = threading.Event()

    def __call__(self, now: datetime) -> None:
        self.seen.append(now)
        if len(self.seen) >= self.wanted:
            self.enough.set()


def test_the_first_tick_comes_at_once_with_the_clocks_time():
    # Given a ticker with a long interval and an injected clock
    ticks = Ticks()
    ticker = Ticker(ticks, interval=60, clock=stepping_clock())
    # When started / Then the callback runs at once, with the clock's now
    ticker.start()
    try:
        assert ticks.enough.wait(WAIT)
        assert ticks.seen == [START]
    finally:
        assert ticker.stop(WAIT)


def test_it_keeps_ticking_every_interval():
    # Given a short interval / When running / Then ticks keep coming, each with a fresh now
    ticks = Ticks(wanted=4)
    ticker = Ticker(ticks, interval=0.01, clock=stepping_clock())
    ticker.start()
    try:
        assert ticks.enough.wait(WAIT)
    finally:
        assert ticker.stop(WAIT)
    assert ticks.seen[:4] == [START + timedelta(seconds=5 * index) for index in range(4)]


def test_a_failing_callback_does_not_stop_the_ticker():
    # Given a callback that fails on its first tick
    ticks = Ticks(wanted=2)

    def fails_first(now: datetime) -> None:
        ticks(now)
        if len(ticks.seen) == 1:
            raise RuntimeError("store unavailable")

    ticker = Ticker(fails_first, interval=0.01)
    ticker.start()
    try:
        # When it runs on / Then a second tick still comes
        assert ticks.enough.wait(WAIT)
    finally:
        assert ticker.stop(WAIT)
    assert ticker.ticks >= 2


def test_stop_wakes_the_ticker_at_once_and_no_tick_follows():
    # Given a ticker sleeping through an hour-long interval after its first tick
    ticks = Ticks()
    ticker = Ticker(ticks, interval=3600)
    ticker.start()
    assert ticks.enough.wait(WAIT)
    # When stopped / Then it ends well before the interval, and ticks no more
    began = time.monotonic()
    assert ticker.stop(WAIT)
    assert time.monotonic() - began < 1.0
    assert not ticker.running
    assert len(ticks.seen) == 1


def test_stop_waits_for_a_running_callback():
    # Given a callback in progress
    inside, release = threading.Event(), threading.Event()
    finished = threading.Event()

    def slow(now: datetime) -> None:
        inside.set()
        release.wait(WAIT)
        finished.set()

    ticker = Ticker(slow, interval=3600)
    ticker.start()
    assert inside.wait(WAIT)
    # When stop is asked with no time to wait / Then the thread is still finishing the callback
    assert ticker.stop(timeout=0) is False
    release.set()
    # and a patient stop returns after the callback completed
    assert ticker.stop(WAIT) is True
    assert finished.is_set()


def test_a_manual_tick_uses_the_clock():
    ticks = Ticks()
    ticker = Ticker(ticks, interval=60, clock=stepping_clock(timedelta(minutes=1)))
    ticker.tick()
    ticker.tick()
    assert ticks.seen == [START, START + timedelta(minutes=1)]
    assert ticker.ticks == 2


def test_misuse_is_refused():
    with pytest.raises(ValueError, match="must be positive"):
        Ticker(lambda now: None, interval=0)
    ticker = Ticker(lambda now: None, interval=3600)
    ticker.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            ticker.start()
    finally:
        ticker.stop(WAIT)
    assert Ticker(lambda now: None, interval=1).stop() is True  # never started


def test_settings_set_the_interval():
    assert Ticker.from_settings(lambda now: None, Settings(schedule_tick_seconds=2.5)).interval == 2.5
