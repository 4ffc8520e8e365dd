"""When to poll a source next: its interval, its own hints, and backoff after failures."""

from __future__ import annotations

import random

__all__ = ["backoff_delay", "next_delay"]


def _jittered(seconds: float, jitter: float, rng: random.Random) -> float:
    return seconds * (1 + rng.uniform(-jitter, jitter))


def next_delay(
    interval_s: float,
    *,
    ttl_s: float | None = None,
    retry_after_s: float | None = None,
    min_s: float,
    max_s: float,
    jitter: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next poll of a healthy source.

    The configured interval, stretched to the source's TTL hint and a
    Retry-After if longer, kept within [min_s, max_s], with jitter.
    """
    rng = rng or random.Random()
    base = max(interval_s, ttl_s or 0.0, retry_after_s or 0.0)
    return _jittered(min(max(base, min_s), max_s), jitter, rng)


def backoff_delay(
    interval_s: float,
    failures: int,
    *,
    retry_after_s: float | None = None,
    cap_s: float,
    jitter: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next try of a source that failed ``failures`` times in a row.

    Doubles per failure from the interval, never beyond ``cap_s``: a failing
    source is slowed down, never given up on.
    """
    rng = rng or random.Random()
    base = min(interval_s * (2 ** max(failures - 1, 0)), cap_s)
    return _jittered(max(base, retry_after_s or 0.0), jitter, rng)
