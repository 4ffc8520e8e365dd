"""Poll scheduling: intervals within bounds, hints honoured, failures backed off, phases spread."""

import random
from collections import Counter

import pytest

from services.fetcher.schedule import (
    InFlight,
    backoff_delay,
    first_poll_at,
    next_delay,
    next_poll_at,
    on_phase,
    phase_of,
)

# What the fetcher passes for a poll due now: a tick of 0.5 s and the polls
# topic's round trip may make it up to 0.75 s late and it keeps its rhythm.
RHYTHM = {"catch_up_s": 0.75}


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
    assert next_poll_at(100.4, 100.0, 5.0, period=5.0, phase=0.3, **RHYTHM) == 105.0
    # A rhythm of polls each 0.4 s late keeps the configured mean interval.
    due, runs = 0.0, []
    for _ in range(100):
        runs.append(due + 0.4)
        due = next_poll_at(due + 0.4, due, 5.0, period=5.0, phase=0.3, **RHYTHM)
    assert (runs[-1] - runs[0]) / (len(runs) - 1) == pytest.approx(5.0)
    # Never more than half a (jittered, short) delay is made up.
    assert next_poll_at(100.7, 100.0, 1.0, period=1.0, phase=0.3, **RHYTHM) == 101.2
    assert next_poll_at(99.0, 100.0, 5.0, period=5.0, phase=0.3, **RHYTHM) == 104.0  # run early


def test_a_very_late_poll_starts_a_new_rhythm_at_its_phase_without_a_burst() -> None:
    # Ran 30 s late (a takeover): the next poll is at the source's phase, an
    # interval away (less the catch-up) at the soonest, two at the latest.
    at = next_poll_at(130.0, 100.0, 5.0, period=5.0, phase=0.3, **RHYTHM)
    assert at == pytest.approx(136.5)
    at = next_poll_at(130.0, 100.0, 5.0, period=5.0, phase=0.9, **RHYTHM)
    assert at == pytest.approx(134.5)
    # No rhythm yet (a first success): the same.
    assert next_poll_at(130.0, None, 5.0, period=5.0, phase=0.9, **RHYTHM) == pytest.approx(134.5)
    # Never sooner than a poll in rhythm could come: the period less the
    # catch-up, or half the period when that is less.
    at = next_poll_at(130.0, None, 5.0, period=5.0, phase=0.0, **RHYTHM)
    assert at == pytest.approx(135.0)
    at = next_poll_at(130.0, None, 1.0, period=1.0, phase=0.2, **RHYTHM)
    assert at == pytest.approx(131.2)
    at = next_poll_at(130.0, None, 1.0, period=1.0, phase=0.6, **RHYTHM)
    assert at == pytest.approx(130.6)


def test_a_sources_phase_is_stable_and_phases_spread_evenly() -> None:
    assert phase_of("lakeside-wire") == phase_of("lakeside-wire")  # any worker, any restart
    assert phase_of("lakeside-wire") != phase_of("lakeside-wire2")
    phases = [phase_of(f"feed-{n}") for n in range(10_000)]
    assert all(0.0 <= p < 1.0 for p in phases)
    tenths = Counter(int(p * 10) for p in phases)
    assert set(tenths) == set(range(10))
    assert all(900 <= n <= 1100 for n in tenths.values()), tenths


def test_on_phase_is_the_first_moment_of_the_phase_not_before_the_earliest() -> None:
    rng = random.Random(3)
    for _ in range(10_000):
        earliest = rng.uniform(1.7e9, 1.8e9)
        period, phase = rng.choice([1.0, 5.0, 60.0, 300.0, 86_400.0]), rng.random()
        at = on_phase(earliest, period, phase)
        assert earliest <= at < earliest + period
        cycles = at / period - phase
        assert abs(cycles - round(cycles)) < 1e-6
    # A moment that is on the phase already is kept, not put off a period.
    slot = (345_678_901 + 0.25) * 5.0
    assert on_phase(slot, 5.0, 0.25) == slot


def test_a_new_source_is_first_polled_within_its_interval_or_the_window() -> None:
    for n in range(200):
        phase = phase_of(f"s{n}")
        assert 1000.0 <= first_poll_at(1000.0, 5.0, phase, within_s=60) < 1005.0
        assert 1000.0 <= first_poll_at(1000.0, 3600.0, phase, within_s=60) < 1060.0


def _polls(ids: list[str], *, registered_at: float, interval: float, until: float) -> list[float]:
    """When each source is polled, its polls each starting 0.3 s after they fell due."""
    runs = []
    for source_id in ids:
        phase = phase_of(source_id)
        due: float | None = None
        at = first_poll_at(registered_at, interval, phase, within_s=60)
        while at < until:
            now = at + 0.3
            runs.append(now)
            at = next_poll_at(now, due, interval, period=interval, phase=phase, **RHYTHM)
            due = at
    return runs


def test_sources_registered_together_are_polled_spread_over_their_interval() -> None:
    ids = [f"live-{n}" for n in range(50)]
    runs = _polls(ids, registered_at=1000.0, interval=5.0, until=1120.0)
    # Every source is polled every 5 s: 24 polls each in those two minutes.
    assert len(runs) == 50 * 24
    # Each half second of the interval sees a tenth of the sources (5 of
    # them on average), never all 50 at once as when they polled in step.
    per_slot = Counter(int((t % 5.0) * 2) for t in runs)
    assert max(per_slot.values()) <= 12 * 24, per_slot
    # The same sources registered at another moment keep the same phases.
    later = _polls(ids, registered_at=1333.3, interval=5.0, until=1453.3)
    assert sorted(round(t % 5.0, 6) for t in later) == sorted(round(t % 5.0, 6) for t in runs)


def test_sources_taken_over_together_are_spread_again() -> None:
    # 50 sources that polled in step (all due at 100), and a worker that
    # takes them over 30 s later and polls them all at once.
    phases = [phase_of(f"live-{n}") for n in range(50)]
    nexts = [next_poll_at(130.0, 100.0, 5.0, period=5.0, phase=p, **RHYTHM) for p in phases]
    assert all(134.25 <= t < 139.25 for t in nexts)
    per_second = Counter(int(t) for t in nexts)
    assert max(per_second.values()) <= 20, per_second


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
