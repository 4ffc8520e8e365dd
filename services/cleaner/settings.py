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
    extraction_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="steps below the worker's CPU priority the extraction processes run at: "
        "extraction is bulk work, so the worker's own Kafka client and the stream stages "
        "sharing its host get the CPU first when it is short (no effect when it is not)",
    )
    page_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description="a page taking longer is dead-lettered instead of blocking its partition",
    )
