"""When to poll a source next: its interval, its own hints, its pace, and backoff."""

from __future__ import annotations

import random

__all__ = ["adapt", "backoff_delay", "next_delay"]

# How much one poll moves the adaptive factor: a poll that found something
# brings the next one closer by a quarter, an empty one pushes it out by a
# quarter. A source settles where about half its polls find something new.
FASTER = 0.75
SLOWER = 1.25


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

    The interval, stretched to the source's TTL hint and a Retry-After if
    longer, kept within [min_s, max_s], with jitter.
    """
    rng = rng or random.Random()
    base = max(interval_s, ttl_s or 0.0, retry_after_s or 0.0)
    return _jittered(min(max(base, min_s), max_s), jitter, rng)


def adapt(factor: float, *, found_new: bool, lo: float, hi: float) -> float:
    """The source's next interval factor after a poll that did or did not find new items.

    Multiplies the configured interval; stays within [lo, hi].
    """
    return min(max(factor * (FASTER if found_new else SLOWER), lo), hi)


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

    Doubles per failure from the interval, never beyond ``cap_s``; a server's
    Retry-After is honoured up to ``cap_s`` too. A failing source is slowed
    down, never given up on.
    """
    rng = rng or random.Random()
    base = min(interval_s * (2 ** min(max(failures - 1, 0), 64)), cap_s)
    return _jittered(max(base, min(retry_after_s or 0.0, cap_s)), jitter, rng)
