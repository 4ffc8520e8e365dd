"""Fixtures shared by every tier.

The integration and e2e tiers run against a real Kafka and a real
Elasticsearch that this test run starts (``infra/local/newsflow-local``) on
ports of their own, so a running ``make run`` is not disturbed; each test gets
its own topic prefix, consumer groups and index prefix.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from shared.settings import CommonSettings

if TYPE_CHECKING:
    from tests.helpers import Services

REPO = Path(__file__).resolve().parent.parent
LOCAL = REPO / "infra" / "local" / "newsflow-local"

# Ports of the test run's own servers: beside the defaults, not on them.
# NEWSFLOW_TEST_PORT_BASE moves them all (two checkouts testing at once).
_BASE = int(os.environ.get("NEWSFLOW_TEST_PORT_BASE", "19000"))
TEST_ENV = {
    "NEWSFLOW_INFRA_RUN": str(REPO / ".cache" / "test-infra"),
    "NEWSFLOW_KAFKA_PORT": str(_BASE + 92),
    "NEWSFLOW_KAFKA_CONTROLLER_PORT": str(_BASE + 93),
    "NEWSFLOW_ES_PORT": str(_BASE + 200),
    "NEWSFLOW_ES_TRANSPORT_PORT": f"{_BASE + 300}-{_BASE + 399}",
}


class Infra:
    """The test run's Kafka and Elasticsearch, and the power to stop and start them."""

    kafka_bootstrap = f"127.0.0.1:{TEST_ENV['NEWSFLOW_KAFKA_PORT']}"
    es_url = f"http://127.0.0.1:{TEST_ENV['NEWSFLOW_ES_PORT']}"

    def local(self, *args: str) -> None:
        subprocess.run([str(LOCAL), *args], check=True, env={**os.environ, **TEST_ENV})

    def common(self, name: str = "") -> CommonSettings:
        """Settings for one test: its own topic prefix and index prefix."""
        tag = f"t{uuid.uuid4().hex[:10]}"
        return CommonSettings(
            kafka_bootstrap=self.kafka_bootstrap,
            es_url=self.es_url,
            topic_prefix=f"{tag}.",
            index_prefix=tag,
            log_format="json",
        )


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    handle = Infra()
    handle.local("up")
    yield handle
    if not os.environ.get("NEWSFLOW_KEEP_TEST_INFRA"):
        handle.local("down")


@pytest.fixture
async def common(infra: Infra) -> AsyncIterator[CommonSettings]:
    """Settings of one test, whose topics and index exist already."""
    from tests.helpers import setup_infra

    settings = infra.common()
    await setup_infra(settings)
    yield settings


@pytest.fixture
def services(common: CommonSettings, tmp_path: Path) -> Iterator[Services]:
    """Stage workers of one test, as processes; all stopped at teardown."""
    from tests.helpers import Services, service_env

    handle = Services(tmp_path, service_env(common))
    yield handle
    handle.stop_all()
