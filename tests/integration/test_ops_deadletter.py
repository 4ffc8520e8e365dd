"""Dead letters from the operator's side, against real workers: list, replay, status.

A page that took too long is dead-lettered; once the cap is raised, replaying
it indexes it, and replaying it again changes nothing: one document per article.
"""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner

from bench.pipeline.site import raw_article
from newsflow.cli import main
from newsflow.status import drained, stage_specs
from shared import codec
from shared.elastic import sync_client
from shared.models import DeadLetter
from shared.settings import CommonSettings
from tests.helpers import Services, consume, produce, service_env, wait_for

BASE = "http://127.0.0.1:1"


def _ids(common: CommonSettings) -> list[str]:
    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        hits = es.search(index=common.read_alias, size=100, source=False)["hits"]["hits"]
    return sorted(h["_id"] for h in hits)


def _cli(common: CommonSettings, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=service_env(common), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _idle(common: CommonSettings) -> bool:
    apps = {s: f"{common.index_prefix}-{s}" for s in ("cleaner", "dedup", "indexer")}
    specs = stage_specs(common, apps)
    return asyncio.run(drained(common, specs)).drained


def test_timed_out_pages_replay_into_one_document_each(
    common: CommonSettings, services: Services
) -> None:
    # A cap no page can meet: every page is dead-lettered as a timeout.
    strict = services.start("cleaner", 1, NEWSFLOW_CLEANER_PAGE_TIMEOUT_S="0.000001")
    services.start("dedup")
    services.start("indexer")
    articles = [raw_article(n, BASE) for n in range(3)]
    asyncio.run(
        produce(common, common.topics.raw, [(a.id.encode(), codec.encode(a)) for a in articles])
    )

    def timeouts(records: list[tuple[bytes | None, bytes | None]]) -> int:
        letters = [codec.decode(DeadLetter, v) for _, v in records]
        return len({(d.partition, d.offset) for d in letters if d.reason == "timeout"})

    letters = asyncio.run(
        consume(common, common.topics.deadletter, until=lambda rs: timeouts(rs) >= 3)
    )
    assert timeouts(letters) == 3, services.logs()

    listed = _cli(common, "deadletter", "list", "--stage", "cleaner", "--json")
    rows = [json.loads(line) for line in listed.splitlines()]
    assert sorted(r["key"] for r in rows) == sorted(a.id for a in articles)
    assert {r["reason"] for r in rows} == {"timeout"}
    shown = _cli(common, "deadletter", "show", rows[0]["id"])
    assert "Generated News" in shown  # the original page

    # The fix: a cleaner with the normal cap takes over the partitions.
    strict.stop()
    services.started.remove(strict)
    services.start("cleaner", 2)
    out = _cli(common, "deadletter", "replay", "--stage", "cleaner", "--reason", "timeout")
    assert "replayed 3 letter(s)" in out
    expected = sorted(a.id for a in articles)
    assert wait_for(lambda: _ids(common) == expected, 120, services=services), services.logs()

    # Again: the articles go through every stage once more, and stay one each.
    _cli(common, "deadletter", "replay", "--stage", "cleaner")
    assert wait_for(lambda: _idle(common), 60)
    assert _ids(common) == expected

    status = json.loads(_cli(common, "status", "--json", "--interval", "0.5"))
    stages = {s["name"]: s for s in status["stages"]}
    for name in ("cleaner", "dedup", "indexer"):
        assert len(stages[name]["members"]) == 1, stages[name]
        assert stages[name]["lag"] == 0, stages[name]
    assert stages["cleaner"]["consumed"] == 3 + 3 + 3
    assert status["dead_letters"] >= 3
    assert status["index"]["documents"] == 3
    assert status["index"]["newest_title"]
    text = _cli(common, "status")
    assert "cleaner" in text and "dead letters:" in text
