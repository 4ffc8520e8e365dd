"""Fetcher settings, from ``NEWSFLOW_FETCHER_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import CommonSettings


class FetcherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_FETCHER_", frozen=True, extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    app_id: str = Field(default="newsflow-fetcher", description="also the consumer group")
    user_agent: str = "newsflow/0.1 (news ingestion; +https://example.invalid/newsflow)"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0
    max_bytes: int = Field(default=5_000_000, description="largest feed or page body accepted")
    max_redirects: int = 5
    concurrent_polls: int = Field(default=16, ge=1, description="sources polled at once per worker")
    min_interval_s: float = Field(default=10.0, gt=0, description="no source is polled more often")
    max_interval_s: float = Field(default=6 * 3600.0, gt=0)
    max_backoff_s: float = Field(
        default=24 * 3600.0, description="failing sources are retried at least this often, forever"
    )
    jitter: float = Field(
        default=0.1,
        ge=0,
        le=0.5,
        description="± share of an interval added at random so polls do not align",
    )
    seen_items: int = Field(
        default=2000, description="item ids remembered per source; more than any feed shows"
    )
    tick_s: float = Field(default=0.5, gt=0, description="how often due sources are looked for")
