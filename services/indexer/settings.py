"""Indexer settings, from ``NEWSFLOW_INDEXER_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import CommonSettings


class IndexerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_INDEXER_", frozen=True, extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    app_id: str = Field(default="newsflow-indexer", description="also the consumer group")
    batch_size: int = Field(default=500, ge=1, description="documents per bulk request at most")
    batch_bytes: int = Field(
        default=5_000_000,
        ge=1,
        description="bulk body size at most; Elasticsearch advises a few MB per request",
    )
    batch_within_s: float = Field(
        default=0.25, gt=0, description="longest wait to fill a batch; part of search latency"
    )
    retry_initial_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0, description="cap of the backoff between tries")
    request_timeout_s: float = Field(default=30.0, gt=0)
