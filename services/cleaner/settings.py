"""Cleaner settings, from ``NEWSFLOW_CLEANER_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import CommonSettings


class CleanerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_CLEANER_", frozen=True, extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    app_id: str = Field(default="newsflow-cleaner", description="also the consumer group")
    batch_size: int = Field(default=64, ge=1, description="pages taken from Kafka at once")
    batch_within_s: float = Field(
        default=0.2, gt=0, description="longest wait to fill a batch; bounds added latency"
    )
    processes: int = Field(
        default=1, ge=1, description="extraction processes per worker; CPU-bound, so ≤ cores"
    )
    page_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description="a page taking longer is dead-lettered instead of blocking its partition",
    )
