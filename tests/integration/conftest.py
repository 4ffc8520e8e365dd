"""Integration tier: real Kafka and Elasticsearch, fresh topics and index per test.

The ``common`` and ``services`` fixtures live in ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.unit.fetcher.site import Site


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    """A programmable HTTP server on loopback for the fetcher's tests."""
    server = await Site().start()
    yield server
    await server.stop()
