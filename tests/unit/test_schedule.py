"""Poll scheduling: intervals within bounds, hints honoured, failures backed off."""

import random

from services.fetcher.schedule import backoff_delay, next_delay


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
