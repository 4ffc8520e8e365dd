"""Apply the infra data files: Kafka topics and the Elasticsearch template and aliases.

Both appliers are idempotent: they create what is missing, raise what is too
small, and leave what is right alone, so they are safe to run on every start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from elasticsearch import Elasticsearch

from newsflow.paths import TEMPLATE_FILE, TOPICS_FILE
from shared.settings import CommonSettings

__all__ = ["TopicSpec", "apply_index", "apply_topics", "load_topics", "template_body"]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]


def load_topics(path: Path = TOPICS_FILE, prefix: str = "") -> list[TopicSpec]:
    """The topics that ``infra/kafka/topics.yaml`` declares, under ``prefix``."""
    data = yaml.safe_load(path.read_text())
    defaults = data.get("defaults", {})
    specs = []
    for name, spec in data["topics"].items():
        spec = spec or {}
        specs.append(
            TopicSpec(
                name=prefix + name,
                partitions=int(spec.get("partitions", defaults.get("partitions", 1))),
                replication_factor=int(
                    spec.get("replication_factor", defaults.get("replication_factor", 1))
                ),
                config={k: str(v) for k, v in (spec.get("config") or {}).items()},
            )
        )
    return specs


async def apply_topics(common: CommonSettings, partitions: int | None = None) -> list[str]:
    """Create or update the topics; returns one line per change made."""
    specs = load_topics(prefix=common.topic_prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
    await admin.start()
    changes: list[str] = []
    try:
        existing = await _partition_counts(admin)
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        s.name,
                        partitions or s.partitions,
                        s.replication_factor,
                        topic_configs=s.config,
                    )
                    for s in missing
                ]
            )
            changes += [f"created topic {s.name}" for s in missing]
        grow = {
            s.name: NewPartitions(partitions or s.partitions)
            for s in specs
            if s.name in existing and existing[s.name] < (partitions or s.partitions)
        }
        if grow:
            await admin.create_partitions(grow)
            changes += [f"raised partitions of {n}" for n in grow]
        present = [s for s in specs if s.name in existing and s.config]
        if present:
            await admin.alter_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, s.name, configs=s.config)
                    for s in present
                ]
            )
    finally:
        await admin.close()
    return changes


async def _partition_counts(admin: AIOKafkaAdminClient) -> dict[str, int]:
    names = await admin.list_topics()
    if not names:
        return {}
    described = await admin.describe_topics(list(names))
    return {t["topic"]: len(t["partitions"]) for t in described}


def template_body(common: CommonSettings, path: Path = TEMPLATE_FILE) -> dict[str, Any]:
    """The index template of ``infra/elasticsearch/template.json`` for this index prefix."""
    body = json.loads(path.read_text())
    body.pop("_comment", None)
    body["index_patterns"] = [f"{common.index_prefix}-articles-*"]
    body["priority"] = 200
    return body


def apply_index(es: Elasticsearch, common: CommonSettings) -> list[str]:
    """Put the template; create the first backing index behind both aliases if none exists."""
    changes = []
    es.indices.put_index_template(name=f"{common.index_prefix}-articles", **template_body(common))
    changes.append(f"put index template {common.index_prefix}-articles")
    if not es.indices.exists_alias(name=common.write_alias):
        first = f"{common.index_prefix}-articles-000001"
        es.indices.create(
            index=first,
            aliases={
                common.write_alias: {"is_write_index": True},
                common.read_alias: {},
            },
        )
        changes.append(f"created index {first} behind {common.write_alias} and {common.read_alias}")
    return changes
