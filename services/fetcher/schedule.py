"""When to poll a source next: its interval, its own hints, its pace, its phase, and backoff."""

from __future__ import annotations

import hashlib
import math
import random

__all__ = [
    "InFlight",
    "adapt",
    "backoff_delay",
    "first_poll_at",
    "next_delay",
    "next_poll_at",
    "on_phase",
    "pace",
    "phase_of",
]

# How much one poll moves the adaptive factor: a poll that found something
# brings the next one closer by a quarter, an empty one pushes it out by a
# quarter. A source settles where about half its polls find something new.
FASTER = 0.75
SLOWER = 1.25


def _jittered(seconds: float, jitter: float, rng: random.Random) -> float:
    return seconds * (1 + rng.uniform(-jitter, jitter))


def pace(
    interval_s: float,
    *,
    ttl_s: float | None = None,
    retry_after_s: float | None = None,
    min_s: float,
    max_s: float,
) -> float:
    """Seconds between two polls of a healthy source, before jitter.

    The interval, stretched to the source's TTL hint and a Retry-After if
    longer, kept within [min_s, max_s].
    """
    base = max(interval_s, ttl_s or 0.0, retry_after_s or 0.0)
    return min(max(base, min_s), max_s)


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
    """Seconds until the next poll of a healthy source: its :func:`pace`, with jitter."""
    rng = rng or random.Random()
    period = pace(interval_s, ttl_s=ttl_s, retry_after_s=retry_after_s, min_s=min_s, max_s=max_s)
    return _jittered(period, jitter, rng)


def phase_of(source_id: str) -> float:
    """Where in its interval a source is polled, as a share in [0, 1).

    A hash of the source id: the same in every worker and after every
    restart, and spread evenly over [0, 1) across many sources, so that
    sources that start together do not poll in step.
    """
    digest = hashlib.blake2b(source_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def on_phase(earliest: float, period: float, phase: float) -> float:
    """The first moment at or after ``earliest`` that is ``phase`` of the way into a ``period``.

    Periods are counted from the epoch, so every worker finds the same
    moments for the same source.
    """
    at = (math.ceil(earliest / period - phase) + phase) * period
    return max(at, earliest)  # a rounding error must not cost a whole period


def first_poll_at(registered_at: float, period: float, phase: float, *, within_s: float) -> float:
    """When to poll for the first time a source registered at ``registered_at``.

    At its phase of a window of ``period`` or ``within_s``, whichever is
    shorter, from its registration: sources registered together (a feed
    list applied, an OPML import) are first polled one after another over
    that window instead of all at once, and a new source is polled soon.
    """
    return on_phase(registered_at, min(period, within_s), phase)


def next_poll_at(
    now: float,
    due: float | None,
    delay: float,
    *,
    catch_up_s: float,
    period: float,
    phase: float,
) -> float:
    """When to poll next a source that was due at ``due`` and was polled at ``now``.

    A source in its rhythm is polled again ``delay`` after the moment the
    poll was due rather than the moment it ran, as long as it ran at most
    ``catch_up_s`` late. A due poll waits for the scheduler's next tick and
    for its turn on the polls topic; counted from the poll itself, that wait
    would be added to every interval, and a source set to 5 s would be
    polled every 5.5 s or so.

    A source without a rhythm (``due`` None: its first successful poll, or
    one back from failures or from polls that came early for waiting work)
    and a poll that ran later than ``catch_up_s`` (a busy or restarted
    worker, a takeover) start a new rhythm at the source's ``phase`` of its
    ``period``, never sooner than a poll in rhythm could be: so a source is
    never polled twice within its interval (less the catch-up), polls never
    bunch up to make up for lost time, and sources that start a rhythm
    together (registered at once, taken over at once) are spread over the
    period instead of polled in step. The price is one longer interval, by
    up to a period, at such a start.
    """
    catch_up = min(catch_up_s, delay / 2)
    if due is not None and now - due <= catch_up_s:
        return now + delay - min(max(now - due, 0.0), catch_up)
    return on_phase(now + delay - catch_up, period, phase)


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


class InFlight:
    """The polls one worker asked for and is running: at most one poll of a source at a time.

    A request that was not taken up within ``reask_s`` may have been lost (a
    produce that failed, a partition moving), so the scheduler may ask again;
    the second request must then not start a second poll of a source that is
    being polled right now. Both would download the same new pages (the seen
    items are recorded only when a poll ends) and emit every article twice.
    """

    def __init__(self, reask_s: float) -> None:
        self._reask_s = reask_s
        self._asked: dict[str, float] = {}
        self._running: set[str] = set()

    def should_ask(self, source_id: str, now: float) -> bool:
        """Whether the scheduler may ask for a poll of a due source."""
        if source_id in self._running:
            return False
        asked = self._asked.get(source_id)
        return asked is None or now - asked >= self._reask_s

    def asked(self, source_id: str, now: float) -> None:
        self._asked[source_id] = now

    def start(self, source_id: str) -> bool:
        """Claim the source for a poll; False when one is running already."""
        if source_id in self._running:
            return False
        self._running.add(source_id)
        return True

    def done(self, source_id: str) -> None:
        """The source's poll ended, or its request was not needed."""
        self._running.discard(source_id)
        self._asked.pop(source_id, None)
