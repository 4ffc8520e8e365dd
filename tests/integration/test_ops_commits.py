"""Where a just-assigned partition must start: the group's committed offsets, from the broker."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata
from faust.types import TP

from shared.offsets import BrokerCommits
from shared.settings import CommonSettings
from tests.helpers import produce


async def test_committed_offsets_come_from_the_broker_without_joining_the_group(
    kafka_only: CommonSettings,
) -> None:
    topic = kafka_only.topics.clean
    await produce(kafka_only, topic, [(f"a{i}".encode(), b"{}") for i in range(5)])
    group = f"{kafka_only.topic_prefix}group"
    member = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_only.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await member.start()
    commits = BrokerCommits(kafka_only.kafka_bootstrap, group)
    try:
        await member.getmany(timeout_ms=5000)
        assignment = sorted(member.assignment())
        assert assignment, "the member was given the topic's partitions"
        first = assignment[0]
        await member.commit({first: OffsetAndMetadata(3, "")})
        found = await commits([TP(first.topic, first.partition), TP(topic, 99)])
        assert found == {TP(first.topic, first.partition): 3, TP(topic, 99): None}
        # Asking did not join the group: its one member keeps every partition.
        await member.getmany(timeout_ms=1000)
        assert sorted(member.assignment()) == assignment
        await member.commit({first: OffsetAndMetadata(4, "")})
        assert await commits([TP(first.topic, first.partition)]) == {
            TP(first.topic, first.partition): 4
        }
    finally:
        await commits.close()
        await member.stop()
