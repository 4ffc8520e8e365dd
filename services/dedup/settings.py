"""Dedup settings, from ``NEWSFLOW_DEDUP_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import CommonSettings


class DedupSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_DEDUP_", frozen=True, extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    app_id: str = Field(default="newsflow-dedup", description="also the consumer group")
    window_days: float = Field(
        default=30.0, gt=0, description="how long fingerprints are remembered"
    )
    batch_size: int = Field(default=200, ge=1)
    batch_within_s: float = Field(
        default=0.02,
        gt=0,
        description="longest wait to fill a batch: each decision crosses several batches",
    )
    shard_partitions: int = Field(
        default=8,
        ge=1,
        description="partitions of the decision state (the most dedup workers that share it); "
        "fixed once the topics exist",
    )
    sweep_every: int = Field(
        default=10_000,
        ge=1,
        description="decisions between sweeps of expired state; a sweep scans the whole table",
    )
