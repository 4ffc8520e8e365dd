"""Settings that every stage shares, read from ``NEWSFLOW_*`` environment variables.

Each service adds its own ``BaseSettings`` with its own prefix
(``NEWSFLOW_CLEANER_*``…) and holds one of these as ``common``. Settings are
built once at startup and passed down; nothing else reads ``os.environ``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topics import Topics

__all__ = ["CommonSettings"]


class CommonSettings(BaseSettings):
    """Where Kafka and Elasticsearch are, and how names are prefixed."""

    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", frozen=True, extra="ignore")

    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="comma-separated host:port list"
    )
    topic_prefix: str = Field(
        default="", description="prepended to every topic name; tests use one per test"
    )
    es_url: str = "http://127.0.0.1:9200"
    es_username: str | None = None
    es_password: SecretStr | None = None
    index_prefix: str = Field(
        default="news", description="indices are <prefix>-articles-NNNNNN behind two aliases"
    )
    log_level: str = "INFO"
    log_format: str = Field(default="json", description="'json' (one object per line) or 'text'")
    # Far above any healthy pause (a batch, a rebalance, a table recovery
    # take seconds; an indexer waiting for Elasticsearch retries at least
    # every 30 s) and well inside the minutes an operator would take to notice.
    wedge_restart_s: float = Field(
        default=120.0,
        gt=0,
        description="a worker with work waiting that shows no progress this long, while the "
        "broker answers, restarts itself in place (shared.kafka.StallGuard)",
    )

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    @property
    def read_alias(self) -> str:
        """The alias searches go to: every backing index."""
        return f"{self.index_prefix}-articles"

    @property
    def write_alias(self) -> str:
        """The alias new documents go to: the newest backing index only."""
        return f"{self.index_prefix}-articles-write"

    @property
    def kafka_url(self) -> str:
        """The broker list in the form Faust wants."""
        return ";".join(f"kafka://{hp.strip()}" for hp in self.kafka_bootstrap.split(","))
