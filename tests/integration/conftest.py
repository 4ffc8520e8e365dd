"""Integration tier: real Kafka and Elasticsearch, fresh topics and index per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from shared.settings import CommonSettings
from tests.conftest import Infra
from tests.helpers import Services, service_env, setup_infra


@pytest.fixture
async def common(infra: Infra) -> AsyncIterator[CommonSettings]:
    settings = infra.common()
    await setup_infra(settings)
    yield settings


@pytest.fixture
def services(common: CommonSettings, tmp_path: Path) -> Iterator[Services]:
    handle = Services(tmp_path, service_env(common))
    yield handle
    handle.stop_all()
