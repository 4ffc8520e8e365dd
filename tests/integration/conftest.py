"""Integration tier: real Kafka and Elasticsearch, fresh topics and index per test.

The ``common`` and ``services`` fixtures live in ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from newsflow.infra import apply_topics
from shared.settings import CommonSettings
from tests.conftest import Infra
from tests.helpers import Services, service_env
from tests.unit.fetcher.site import Site


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    """A programmable HTTP server on loopback for the fetcher's tests."""
    server = await Site().start()
    yield server
    await server.stop()


@pytest.fixture
async def kafka_only(infra: Infra) -> CommonSettings:
    """This test's topics, without an index: for stages that never reach Elasticsearch."""
    settings = infra.common()
    await apply_topics(settings)
    return settings


@pytest.fixture
def workers(kafka_only: CommonSettings, tmp_path: Path) -> Iterator[Services]:
    """Stage workers on ``kafka_only``'s topics; all stopped at teardown."""
    handle = Services(tmp_path, service_env(kafka_only))
    yield handle
    handle.stop_all()
