"""A worker that stops making progress with work waiting restarts itself in place.

The cleaner is wedged for real: its extraction process is stopped (SIGSTOP)
in the middle of a batch, with the page time cap far away, so the batch
never ends and nothing else shows progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

from bench.pipeline.measure import process_tree
from bench.pipeline.site import raw_article
from newsflow.topicread import read_topic
from shared import codec
from shared.settings import CommonSettings
from tests.helpers import Services, produce, wait_for

RESTART_LINE = "restarting the worker in place"


def _cleaned(common: CommonSettings) -> int:
    async def count() -> int:
        records = await read_topic(
            common.kafka_bootstrap, common.topics.clean, until=lambda rs: False, timeout_s=2.0
        )
        return len({r.key for r in records})

    return asyncio.run(count())


async def _pages(common: CommonSettings, numbers: range) -> None:
    pages = [raw_article(n, "http://wedge.invalid") for n in numbers]
    await produce(common, common.topics.raw, [(p.id.encode(), codec.encode(p)) for p in pages])


def test_a_wedged_worker_restarts_in_place_and_finishes_its_work(
    kafka_only: CommonSettings, workers: Services
) -> None:
    common = kafka_only
    cleaner = workers.start(
        "cleaner",
        NEWSFLOW_WEDGE_RESTART_S="8",
        NEWSFLOW_CLEANER_PAGE_TIMEOUT_S="600",
        NEWSFLOW_CLEANER_METRICS_PORT="0",
    )
    assert cleaner.proc is not None
    pid = cleaner.proc.pid
    asyncio.run(_pages(common, range(1)))
    assert wait_for(lambda: _cleaned(common) == 1, 90, services=workers), cleaner.log_tail()

    # Idle for longer than the wedge time: nothing to do is not being wedged.
    time.sleep(12)
    assert RESTART_LINE not in cleaner.log_path.read_text()

    stopped = [p for p in process_tree(pid) if p != pid]  # the fork server and the extraction
    assert stopped, "the cleaner has no extraction process"
    try:
        for child in stopped:
            os.kill(child, signal.SIGSTOP)
        asyncio.run(_pages(common, range(1, 6)))
        restarted = wait_for(
            lambda: RESTART_LINE in cleaner.log_path.read_text(), 60, services=workers
        )
        assert restarted, cleaner.log_tail()
        assert wait_for(lambda: _cleaned(common) == 6, 90, services=workers), cleaner.log_tail()
        assert cleaner.alive() and cleaner.proc.pid == pid  # the same process, run afresh
    finally:
        for child in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
