"""The feed registry: sources live in the compacted ``news.feeds`` topic, key = source id."""

from __future__ import annotations

from pathlib import Path

import yaml
from aiokafka import AIOKafkaProducer

from newsflow.topicread import read_topic
from shared import codec
from shared.exceptions import PoisonMessage
from shared.models import FeedSource
from shared.settings import CommonSettings

__all__ = ["list_sources", "load_sources_file", "put_sources", "remove_sources"]


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
