"""``apply_index`` and rollover against a real Elasticsearch."""

from __future__ import annotations

import json

from elasticsearch import AsyncElasticsearch

from newsflow.infra import apply_index, has_ilm, mapped_fields
from newsflow.paths import TEMPLATE_FILE
from services.indexer.layout import managed_by_ilm, read_layout, roll_over
from services.indexer.settings import deadletter_index
from shared.elastic import sync_client
from tests.conftest import Infra


def test_apply_index_is_idempotent_and_adds_fields_the_template_gained(infra: Infra) -> None:
    common = infra.common()
    first = f"{common.index_prefix}-articles-000001"
    template = json.loads(TEMPLATE_FILE.read_text())["template"]
    mappings = template["mappings"]
    # An index made by an older template, without two of today's fields.
    old = {**mappings, "properties": dict(mappings["properties"])}
    del old["properties"]["updated_at"], old["properties"]["content_hash"]
    with sync_client(common) as es:
        es.indices.create(
            index=first,
            mappings=old,
            settings=template["settings"],
            aliases={common.write_alias: {"is_write_index": True}, common.read_alias: {}},
        )
        changes = apply_index(es, common)
        assert f"added content_hash, updated_at to the mapping of {first}" in changes
        assert f"created index {deadletter_index(common)}" in changes
        current = es.indices.get_mapping(index=first)[first]["mappings"]
        assert set(mapped_fields(mappings)) <= set(mapped_fields(current))

        again = apply_index(es, common)
        assert all(line.startswith("put ") for line in again), again
        # The local distribution has no ILM: the indexer rolls over itself.
        assert not has_ilm(es)


async def test_a_rollover_moves_the_write_alias_and_keeps_every_index_readable(
    infra: Infra,
) -> None:
    common = infra.common()
    with sync_client(common) as es:
        apply_index(es, common)
        es.index(index=common.write_alias, id="a1", document={"id": "a1"}, refresh=True)
    es_async = AsyncElasticsearch(common.es_url)
    try:
        before = await read_layout(es_async, common.read_alias, common.write_alias)
        assert not await managed_by_ilm(es_async, before.write)
        assert await roll_over(es_async, common.write_alias, {"max_docs": 1_000}) is None
        new = await roll_over(es_async, common.write_alias, {"max_docs": 1, "min_docs": 1})
        assert new == f"{common.index_prefix}-articles-000002"
        after = await read_layout(es_async, common.read_alias, common.write_alias)
    finally:
        await es_async.close()
    # The new index joined the read alias through the template.
    assert after.write == new and after.older == (before.write,)
