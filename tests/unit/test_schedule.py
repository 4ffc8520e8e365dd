"""Poll scheduling: intervals within bounds, hints honoured, failures backed off."""

import random

import pytest

from services.fetcher.schedule import InFlight, backoff_delay, next_delay, next_poll_at


def test_interval_is_kept_within_bounds_and_jittered() -> None:
    rng = random.Random(7)
    delays = [next_delay(300, min_s=10, max_s=3600, jitter=0.1, rng=rng) for _ in range(200)]
    assert all(270 <= d <= 330 for d in delays)
    assert len({round(d, 3) for d in delays}) > 100  # jitter spreads the polls
    assert next_delay(1, min_s=10, max_s=3600, jitter=0) == 10
    assert next_delay(99999, min_s=10, max_s=3600, jitter=0) == 3600


def test_ttl_and_retry_after_stretch_the_interval() -> None:
    assert next_delay(60, ttl_s=900, min_s=10, max_s=3600, jitter=0) == 900
    assert next_delay(60, retry_after_s=120, min_s=10, max_s=3600, jitter=0) == 120


def test_backoff_doubles_and_is_capped_but_never_gives_up() -> None:
    delays = [backoff_delay(60, n, cap_s=86400, jitter=0) for n in range(1, 20)]
    assert delays[:4] == [60, 120, 240, 480]
    assert max(delays) == 86400
    assert delays[-1] == 86400  # the 19th failure is still retried, a day later


def test_jitter_keeps_the_mean_interval_and_bounds_the_longest() -> None:
    rng = random.Random(11)
    delays = [next_delay(5, min_s=1, max_s=3600, jitter=0.1, rng=rng) for _ in range(20_000)]
    assert abs(sum(delays) / len(delays) - 5) < 0.01
    assert min(delays) >= 4.5 and max(delays) <= 5.5


def test_a_poll_late_for_its_tick_does_not_push_the_next_one_back() -> None:
    # Due at 100, run at 100.4 (waiting for the tick): the next is due at 105.
    assert next_poll_at(100.4, 100.0, 5.0, catch_up_s=0.7) == 105.0
    # A rhythm of polls each 0.4 s late keeps the configured mean interval.
    due, runs = 0.0, []
    for _ in range(100):
        runs.append(due + 0.4)
        due = next_poll_at(due + 0.4, due, 5.0, catch_up_s=0.7)
    assert (runs[-1] - runs[0]) / (len(runs) - 1) == pytest.approx(5.0)


def test_a_very_late_poll_starts_a_new_rhythm_without_a_burst() -> None:
    # Ran 30 s late (a takeover): only catch_up_s of it is made up.
    assert next_poll_at(130.0, 100.0, 5.0, catch_up_s=0.7) == pytest.approx(134.3)
    # Never more than half an interval, and never later than the delay.
    assert next_poll_at(101.0, 100.0, 1.0, catch_up_s=0.7) == 101.5
    assert next_poll_at(100.0, None, 5.0, catch_up_s=0.7) == 105.0
    assert next_poll_at(99.0, 100.0, 5.0, catch_up_s=0.7) == 104.0  # forced early: from now


def test_one_poll_of_a_source_at_a_time_and_lost_requests_asked_again() -> None:
    flights = InFlight(reask_s=60)
    assert flights.should_ask("a", 0.0)
    flights.asked("a", 0.0)
    assert not flights.should_ask("a", 30.0)  # asked, not answered yet
    assert flights.should_ask("a", 61.0)  # may have been lost: ask again
    flights.asked("a", 61.0)
    assert flights.start("a")  # the first request is taken up
    assert not flights.start("a")  # the second must not poll it again meanwhile
    assert not flights.should_ask("a", 500.0)  # nor is a third asked for, however long it runs
    flights.done("a")
    assert flights.should_ask("a", 500.0) and flights.start("a")
