"""Reprocessing against real workers: a new index, aliases swapped, search never empty.

The live pipeline keeps indexing new pages throughout; every article ends up
in the new index exactly once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from bench.pipeline.site import raw_article
from newsflow.reprocess import Progress, make_plan, reprocess
from shared import codec
from shared.elastic import sync_client
from shared.settings import CommonSettings
from tests.helpers import Services, produce, wait_for

BASE = "http://127.0.0.1:1"
# The live indexer's cached view of the aliases; short, so the test is too.
LAYOUT_TTL_S = 1.0


def _send(common: CommonSettings, numbers: range) -> None:
    articles = [raw_article(n, BASE) for n in numbers]
    records = [(a.id.encode(), codec.encode(a)) for a in articles]
    asyncio.run(produce(common, common.topics.raw, records))


def _count(common: CommonSettings) -> int:
    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        return int(es.count(index=common.read_alias)["count"])


class _Watcher(threading.Thread):
    """Counts the searchable articles every 50 ms and keeps the smallest count."""

    def __init__(self, common: CommonSettings) -> None:
        super().__init__(daemon=True)
        self.common = common
        self.lowest: int | None = None
        self.failures: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        with sync_client(self.common) as es:
            while not self.done.is_set():
                try:
                    count = int(es.count(index=self.common.read_alias)["count"])
                except Exception as exc:  # a search that fails is what we look for
                    self.failures.append(repr(exc))
                else:
                    self.lowest = count if self.lowest is None else min(self.lowest, count)
                time.sleep(0.05)


def test_reprocess_swaps_to_a_complete_new_index_while_live_indexing_goes_on(
    common: CommonSettings, services: Services, tmp_path: Path
) -> None:
    for stage in ("cleaner", "dedup", "indexer"):
        services.start(stage, NEWSFLOW_INDEXER_LAYOUT_TTL_S=str(LAYOUT_TTL_S))
    _send(common, range(30))
    assert wait_for(lambda: _count(common) == 30, 120, services=services), services.logs()

    watcher = _Watcher(common)
    watcher.start()
    # New pages keep arriving at the live pipeline during the whole run.
    stop_feeding = threading.Event()

    def feed() -> None:
        for n in range(30, 60):
            if stop_feeding.wait(0.5):
                return
            _send(common, range(n, n + 1))

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    phases: list[Progress] = []
    plan = make_plan(common)
    with sync_client(common) as es:
        before = sorted(es.indices.get_alias(name=common.read_alias))
        summary = reprocess(
            plan, es, layout_ttl_s=LAYOUT_TTL_S, on_progress=phases.append, run_dir=tmp_path
        )
        stop_feeding.set()
        feeder.join()
        aliases = es.indices.get_alias(name=f"{common.read_alias},{common.write_alias}")

    # Everything the live pipeline got, before and after the swap, is there once.
    fed = _fed_count(common)
    assert wait_for(lambda: _count(common) == fed, 60, services=services), (_count(common), fed)
    watcher.done.set()
    watcher.join()
    assert watcher.failures == []
    assert watcher.lowest is not None and watcher.lowest >= 30
    assert list(aliases) == [plan.new_index], aliases
    assert aliases[plan.new_index]["aliases"][common.write_alias]["is_write_index"] is True
    assert summary["old_indices"] == before
    assert summary["raw_pages"] >= 30
    assert {p.phase for p in phases} >= {"processing", "after the swap"}
    assert phases[-1].done == phases[-1].total


def _fed_count(common: CommonSettings) -> int:
    """How many distinct pages news.raw holds (the live pipeline's whole input)."""
    from newsflow.topicread import read_topic

    records = asyncio.run(read_topic(common.kafka_bootstrap, common.topics.raw))
    return len({r.key for r in records})
