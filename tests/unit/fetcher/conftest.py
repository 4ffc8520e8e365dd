"""Fixtures of the fetcher's unit tests: a local site and clients allowed to reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.http import AddressPolicy, HttpClient
from tests.unit.fetcher.site import Site

# The local site lives on loopback, which the client refuses unless told.
LOOPBACK = AddressPolicy.from_entries(["127.0.0.1"])


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    server = await Site().start()
    yield server
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(
        policy=LOOPBACK, read_timeout_s=2, total_timeout_s=3, max_bytes=200_000, max_redirects=4
    )
    yield client
    await client.aclose()
