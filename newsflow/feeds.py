"""The feed registry: sources live in the compacted ``news.feeds`` topic, key = source id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaProducer

from newsflow.topicread import read_topic
from shared import codec
from shared.exceptions import PoisonMessage
from shared.models import FeedSource
from shared.settings import CommonSettings

__all__ = [
    "health_topic",
    "list_sources",
    "load_sources_file",
    "put_sources",
    "read_health",
    "remove_sources",
]


async def put_sources(common: CommonSettings, sources: list[FeedSource]) -> None:
    """Add or replace ``sources`` (the latest record per id wins)."""
    producer = AIOKafkaProducer(bootstrap_servers=common.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for source in sources:
            await producer.send_and_wait(
                common.topics.feeds, key=source.id.encode(), value=codec.encode(source)
            )
    finally:
        await producer.stop()


async def remove_sources(common: CommonSettings, ids: list[str]) -> None:
    """Remove sources by id (a tombstone each)."""
    producer = AIOKafkaProducer(bootstrap_servers=common.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for source_id in ids:
            await producer.send_and_wait(common.topics.feeds, key=source_id.encode(), value=None)
    finally:
        await producer.stop()


async def list_sources(common: CommonSettings) -> dict[str, FeedSource]:
    """The current sources: the whole compacted topic read to its end."""
    sources: dict[str, FeedSource] = {}
    for record in await read_topic(common.kafka_bootstrap, common.topics.feeds):
        key = record.key.decode() if record.key else ""
        if record.value is None:
            sources.pop(key, None)
            continue
        try:
            sources[key] = codec.decode(FeedSource, record.value)
        except PoisonMessage:
            continue  # the fetcher dead-letters these; a listing skips them
    return sources


def load_sources_file(path: Path) -> list[FeedSource]:
    """Sources declared in a YAML file: ``sources: [{id, kind, url, ...}, ...]``."""
    data = yaml.safe_load(path.read_text()) or {}
    return [FeedSource.model_validate(item) for item in data.get("sources", [])]


def health_topic(app_id: str) -> str:
    """The fetcher's ``state`` table changelog: one compact health record per source."""
    return f"{app_id}-state-changelog"


async def read_health(common: CommonSettings, app_id: str) -> dict[str, dict[str, Any]]:
    """Each source's latest health record, as the fetcher ``app_id`` last wrote it.

    The record is the fetcher's poll state: ``last_success_at``,
    ``last_error``, ``last_error_reason``, ``last_error_at``, ``failures``
    (in a row), ``next_poll_at`` (epoch seconds), ``items_seen``,
    ``new_share`` (of the last poll's items, those not seen before), ``polls``.
    Empty when the fetcher has not polled anything yet.
    """
    health: dict[str, dict[str, Any]] = {}
    for record in await read_topic(common.kafka_bootstrap, health_topic(app_id)):
        key = _text_key(record.key)
        if record.value is None:
            health.pop(key, None)
            continue
        try:
            value = json.loads(record.value)
        except ValueError:
            continue
        if isinstance(value, dict):
            health[key] = value
    return health


def _text_key(raw: bytes | None) -> str:
    text = raw.decode("utf-8", "replace") if raw else ""
    if text.startswith('"'):  # a JSON-serialised key
        try:
            return str(json.loads(text))
        except ValueError:
            pass
    return text
