"""The dead-letter topic from the operator's side: list, inspect, replay.

A replay puts a letter's original bytes, under its original key, back on the
input topic of the stage that failed (``STAGE_INPUTS``); the stage then runs
it again as if it had never failed. Since article ids are stable and the
indexer creates documents by id, replaying an article that made it after all
(or replaying twice) never makes a second document.

Letters are identified by their own position in the dead-letter topic,
``<partition>:<offset>``. A failure can be dead-lettered twice when a worker
dies between dead-lettering and committing (at-least-once); :func:`distinct`
keeps one letter per failed input message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from newsflow.topicread import read_topic
from shared import codec
from shared.deadletter import original_bytes
from shared.exceptions import PoisonMessage
from shared.models import DeadLetter
from shared.settings import CommonSettings
from shared.topics import Topics

__all__ = [
    "STAGE_INPUTS",
    "Letter",
    "ReplayResult",
    "distinct",
    "parse_since",
    "read_letters",
    "replay",
    "replay_target",
    "select",
]

# The topic each stage reads, which is where its failures go back to.
STAGE_INPUTS = {"fetcher": "feeds", "cleaner": "raw", "dedup": "clean", "indexer": "unique"}


@dataclass(frozen=True)
class Letter:
    """A dead letter and where it sits in the dead-letter topic."""

    partition: int
    offset: int
    letter: DeadLetter

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def failure(self) -> tuple[object, ...]:
        """What failed: the input message's coordinates, or (without them) its content."""
        d = self.letter
        if d.topic is not None and d.partition is not None and d.offset is not None:
            return (d.stage, d.topic, d.partition, d.offset)
        return (d.stage, d.reason, d.key, d.original)


async def read_letters(common: CommonSettings) -> list[Letter]:
    """Every dead letter in the topic, oldest first per partition.

    A record that is not a dead letter at all (nothing of ours writes one) is
    skipped rather than failing the listing.
    """
    records = await read_topic(common.kafka_bootstrap, common.topics.deadletter)
    letters = []
    for record in records:
        try:
            letter = codec.decode(DeadLetter, record.value)
        except PoisonMessage:
            continue
        letters.append(Letter(record.partition, record.offset, letter))
    return sorted(letters, key=lambda entry: (entry.letter.at, entry.partition, entry.offset))


def select(
    letters: list[Letter],
    *,
    stage: str | None = None,
    reason: str | None = None,
    since: datetime | None = None,
    ids: tuple[str, ...] = (),
) -> list[Letter]:
    """The letters that match every filter given."""
    return [
        entry
        for entry in letters
        if (stage is None or entry.letter.stage == stage)
        and (reason is None or entry.letter.reason == reason)
        and (since is None or entry.letter.at >= since)
        and (not ids or entry.id in ids)
    ]


def distinct(letters: list[Letter]) -> list[Letter]:
    """One letter per failed input message (the first), in order."""
    seen: set[tuple[object, ...]] = set()
    kept = []
    for entry in letters:
        if entry.failure not in seen:
            seen.add(entry.failure)
            kept.append(entry)
    return kept


def replay_target(letter: DeadLetter, topics: Topics) -> str | None:
    """The topic ``letter``'s original goes back to, or None when it cannot be replayed.

    The fetcher's letters for a failing source or an invalid registration
    carry the source's configuration (``FeedSource`` JSON) and name
    ``news.feeds``: replaying re-registers the source. Its letters for a
    single item of a feed (a page that could not be fetched) carry a JSON
    description of the item, not a message any topic takes: they are not
    replayable; the page is fetched again only if the feed lists it anew
    under another guid.
    """
    if letter.stage == "fetcher" and letter.topic is None:
        return None
    name = STAGE_INPUTS.get(letter.stage)
    return getattr(topics, name) if name is not None else None


@dataclass(frozen=True)
class ReplayResult:
    replayed: list[Letter]
    skipped: list[tuple[Letter, str]]


async def replay(common: CommonSettings, letters: list[Letter]) -> ReplayResult:
    """Put each letter's original back on its stage's input topic (one per failure)."""
    replayed: list[Letter] = []
    skipped: list[tuple[Letter, str]] = []
    producer = AIOKafkaProducer(
        bootstrap_servers=common.kafka_bootstrap, acks="all", max_request_size=10_485_760
    )
    await producer.start()
    try:
        for entry in distinct(letters):
            target = replay_target(entry.letter, common.topics)
            if target is None:
                skipped.append((entry, "a fetcher item error describes a page, not a message"))
                continue
            key = entry.letter.key.encode("utf-8") if entry.letter.key is not None else None
            await producer.send(target, key=key, value=original_bytes(entry.letter))
            replayed.append(entry)
        await producer.flush()
    finally:
        await producer.stop()
    return ReplayResult(replayed, skipped)


_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``30m``, ``2h``, ``7d`` (ago) or an ISO 8601 time (UTC unless it says otherwise)."""
    match = _SPAN.match(value.strip())
    if match:
        amount, unit = float(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"{value!r}: use 30m, 2h, 7d or an ISO time") from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
