"""Indexer settings, from ``NEWSFLOW_INDEXER_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import CommonSettings

__all__ = ["IndexerSettings", "deadletter_index"]


def deadletter_index(common: CommonSettings) -> str:
    """The index the indexer copies dead letters into, for Kibana to count."""
    return f"{common.index_prefix}-deadletters"


class IndexerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_INDEXER_", frozen=True, extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    app_id: str = Field(default="newsflow-indexer", description="also the consumer group")
    batch_size: int = Field(
        default=1000,
        ge=1,
        description=(
            "documents per bulk request at most; with news articles of a few KB, 1,000 "
            "come to the few MB a request Elasticsearch advises (batch_bytes caps it)"
        ),
    )
    batch_bytes: int = Field(
        default=5_000_000,
        ge=1,
        description="bulk body size at most; Elasticsearch advises a few MB per request",
    )
    batch_within_s: float = Field(
        default=0.1,
        gt=0,
        description=(
            "longest wait to fill a batch: part of the delay to searchable; with a "
            "backlog, batches fill up long before it ends"
        ),
    )
    max_in_flight: int = Field(
        default=1,
        ge=1,
        description=(
            "batches written at once; more only helps an Elasticsearch with cores to "
            "spare (on a 2-core host, 2 made bulk requests three times slower)"
        ),
    )
    fetch_partition_bytes: int = Field(
        default=4_194_304,
        ge=65_536,
        description=(
            "bytes fetched per partition and request (Faust's consumer_max_fetch_size). "
            "Faust's 1 MB held a backlog of 4 KB articles to about 2,100 a second: the "
            "consumer fetches again only once every partition's data is used up, and "
            "Faust's buffer pressure then idles it for up to a second; 4 MB made "
            "those pauses rare"
        ),
    )
    retry_initial_s: float = Field(default=0.5, gt=0, description="first backoff delay")
    retry_max_s: float = Field(
        default=10.0,
        gt=0,
        description="cap of the backoff between tries, so a recovery is noticed this soon",
    )
    request_timeout_s: float = Field(default=30.0, gt=0)
    layout_ttl_s: float = Field(
        default=10.0,
        gt=0,
        description=(
            "how long the backing indices behind the aliases are cached; a worker writes "
            "to the index it knows, so a rollover by another worker reaches it this late"
        ),
    )
    rollover_check_s: float = Field(
        default=60.0,
        gt=0,
        description="how often the leader worker rolls the write index over when ILM does not",
    )
    # The same conditions as infra/elasticsearch/ilm-policy.json (a unit test
    # holds them equal), for servers without ILM.
    rollover_max_age: str = Field(default="30d", description="roll over an index this old")
    rollover_max_primary_shard_size: str = Field(default="10gb")
    rollover_max_docs: int = Field(default=5_000_000, ge=1)
    index_deadletters: bool = Field(
        default=True,
        description="copy news.deadletter into <prefix>-deadletters for the Kibana dashboard",
    )
