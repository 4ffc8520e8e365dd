"""Apply the infra data files: Kafka topics and the Elasticsearch templates and aliases.

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
from elasticsearch import ApiError, BadRequestError, Elasticsearch

from newsflow.paths import TEMPLATE_FILE, TOPICS_FILE
from services.indexer.settings import deadletter_index
from shared.exceptions import NewsflowError
from shared.settings import CommonSettings

__all__ = [
    "DEADLETTER_TEMPLATE_FILE",
    "ILM_POLICY_FILE",
    "IndexSetupError",
    "TopicSpec",
    "apply_index",
    "apply_topics",
    "deadletter_template_body",
    "has_ilm",
    "ilm_policy_body",
    "load_topics",
    "mapped_fields",
    "template_body",
]

ILM_POLICY_FILE = TEMPLATE_FILE.parent / "ilm-policy.json"
DEADLETTER_TEMPLATE_FILE = TEMPLATE_FILE.parent / "deadletter-template.json"

# Statuses with which a server without the ILM module answers ``GET _ilm/status``:
# the local minimal distribution says 405 (the path exists only for POST there).
_NO_ILM_STATUS = frozenset({400, 404, 405, 410, 501})


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


class IndexSetupError(NewsflowError):
    """The server refused the index setup in a way an operator has to fix."""


def _load(path: Path) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(path.read_text())
    body.pop("_comment", None)
    return body


def template_body(
    common: CommonSettings, path: Path = TEMPLATE_FILE, *, lifecycle: bool = False
) -> dict[str, Any]:
    """The article index template for this index prefix, ready for ``put_index_template``.

    Every backing index joins the read alias through the template, so a
    rollover needs to name only the write alias. With ``lifecycle`` the indices
    are managed by the ILM policy ``<prefix>-articles`` through the write alias.
    """
    body = _load(path)
    body["index_patterns"] = [f"{common.index_prefix}-articles-*"]
    body["priority"] = 200
    template = body["template"]
    template["aliases"] = {common.read_alias: {}}
    if lifecycle:
        template["settings"]["index.lifecycle.name"] = _policy_name(common)
        template["settings"]["index.lifecycle.rollover_alias"] = common.write_alias
    return body


def deadletter_template_body(
    common: CommonSettings, path: Path = DEADLETTER_TEMPLATE_FILE
) -> dict[str, Any]:
    """The template of the dead-letter index for this index prefix."""
    body = _load(path)
    body["index_patterns"] = [deadletter_index(common)]
    body["priority"] = 200
    return body


def ilm_policy_body(path: Path = ILM_POLICY_FILE) -> dict[str, Any]:
    """The lifecycle policy of ``infra/elasticsearch/ilm-policy.json``."""
    policy: dict[str, Any] = _load(path)["policy"]
    return policy


def mapped_fields(mappings: dict[str, Any]) -> dict[str, str]:
    """Every field path of ``mappings`` (sub-fields included) with its type."""
    fields: dict[str, str] = {}

    def walk(prefix: str, properties: dict[str, Any]) -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            if "properties" in spec:
                walk(path + ".", spec["properties"])
                continue
            fields[path] = spec["type"]
            for sub, subspec in spec.get("fields", {}).items():
                fields[f"{path}.{sub}"] = subspec["type"]

    walk("", mappings.get("properties", {}))
    return fields


def has_ilm(es: Elasticsearch) -> bool:
    """Whether the server runs index lifecycle management (the full distribution does)."""
    try:
        es.ilm.get_status()
    except ApiError as exc:
        if exc.meta.status in _NO_ILM_STATUS:
            return False
        raise
    return True


def _policy_name(common: CommonSettings) -> str:
    return f"{common.index_prefix}-articles"


def _put_template(es: Elasticsearch, name: str, body: dict[str, Any]) -> None:
    try:
        es.indices.put_index_template(name=name, **body)
    except BadRequestError as exc:
        if "failed to find" in str(exc):
            raise IndexSetupError(
                f"Elasticsearch refused index template {name}: {exc.message}. The template "
                "needs asciifolding and porter_stem: the full distribution has them; the "
                "local one gets them from the newsflow-analysis plugin, which a node started "
                "before the plugin was built does not have (restart it: "
                "infra/local/newsflow-local down es && infra/local/newsflow-local up es)"
            ) from exc
        raise


def _add_missing_fields(es: Elasticsearch, index: str, mappings: dict[str, Any]) -> list[str]:
    """Put ``mappings`` on every index behind ``index`` that lacks some of its fields.

    A template only shapes indices created after it, so fields the template
    gained must reach the existing indices too; a changed type cannot, and
    Elasticsearch's refusal is raised as it is.
    """
    changes = []
    wanted = mapped_fields(mappings)
    for name, current in es.indices.get_mapping(index=index).items():
        missing = sorted(set(wanted) - set(mapped_fields(current["mappings"])))
        if missing:
            es.indices.put_mapping(index=name, **mappings)
            changes.append(f"added {', '.join(missing)} to the mapping of {name}")
    return changes


def apply_index(es: Elasticsearch, common: CommonSettings) -> list[str]:
    """Make the article and dead-letter indices match ``infra/elasticsearch/``.

    Puts the lifecycle policy (only where the server has ILM), both index
    templates, creates the first article index behind the write and read
    aliases and the dead-letter index if they are missing, and adds fields the
    templates gained to the indices that exist. Returns one line per change.
    """
    changes = []
    lifecycle = has_ilm(es)
    if lifecycle:
        es.ilm.put_lifecycle(name=_policy_name(common), policy=ilm_policy_body())
        changes.append(f"put lifecycle policy {_policy_name(common)}")
    articles = template_body(common, lifecycle=lifecycle)
    _put_template(es, f"{common.index_prefix}-articles", articles)
    changes.append(f"put index template {common.index_prefix}-articles")
    letters = deadletter_template_body(common)
    _put_template(es, deadletter_index(common), letters)
    changes.append(f"put index template {deadletter_index(common)}")

    if es.indices.exists_alias(name=common.write_alias):
        changes += _add_missing_fields(es, common.read_alias, articles["template"]["mappings"])
        if lifecycle:
            changes += _manage_write_index(es, common)
    else:
        first = f"{common.index_prefix}-articles-000001"
        es.indices.create(
            index=first,
            aliases={common.write_alias: {"is_write_index": True}, common.read_alias: {}},
        )
        changes.append(f"created index {first} behind {common.write_alias} and {common.read_alias}")

    if es.indices.exists(index=deadletter_index(common)):
        changes += _add_missing_fields(
            es, deadletter_index(common), letters["template"]["mappings"]
        )
    else:
        es.indices.create(index=deadletter_index(common))
        changes.append(f"created index {deadletter_index(common)}")
    return changes


def _manage_write_index(es: Elasticsearch, common: CommonSettings) -> list[str]:
    """Put the write index under the lifecycle policy if it was created without it."""
    changes = []
    for name, entry in es.indices.get_alias(name=common.write_alias).items():
        if not entry["aliases"][common.write_alias].get("is_write_index", True):
            continue
        settings = es.indices.get_settings(index=name, name="index.lifecycle.name")
        if settings[name]["settings"].get("index", {}).get("lifecycle", {}).get("name"):
            continue
        es.indices.put_settings(
            index=name,
            settings={
                "index.lifecycle.name": _policy_name(common),
                "index.lifecycle.rollover_alias": common.write_alias,
            },
        )
        changes.append(f"put {name} under lifecycle policy {_policy_name(common)}")
    return changes
