"""Reading whole topics from the operator's side (listings, dead letters, tests)."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

__all__ = ["partitions_in", "partitions_of", "read_topic"]


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The partition numbers of ``topic`` (empty when it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await partitions_in(admin, topic)
    finally:
        await admin.close()


async def partitions_in(admin: AIOKafkaAdminClient, topic: str) -> list[int]:
    """:func:`partitions_of`, asked through an admin client the caller holds open."""
    described = await admin.describe_topics([topic])
    for entry in described:
        if entry["topic"] == topic and entry.get("error_code", 0) == 0:
            return sorted(p["partition"] for p in entry["partitions"])
    return []


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool] | None = None,
    timeout_s: float = 30.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from the beginning.

    Without ``until``: up to the end offsets as of the call. With ``until``:
    keeps reading (new records too) until ``until(records)`` holds or
    ``timeout_s`` passes.
    """
    parts = await partitions_of(bootstrap, topic)
    records: list[ConsumerRecord[bytes, bytes]] = []
    if not parts:
        return records
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if until is None:
                positions = {tp: await consumer.position(tp) for tp in tps}
                if all(positions[tp] >= end[tp] for tp in tps):
                    break
            elif until(records):
                break
            batch = await consumer.getmany(timeout_ms=500)
            for items in batch.values():
                records.extend(items)
    finally:
        await consumer.stop()
    return records
