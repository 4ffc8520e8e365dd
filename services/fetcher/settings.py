"""Fetcher settings, from ``NEWSFLOW_FETCHER_*`` environment variables.

List settings take a comma-separated value:
``NEWSFLOW_FETCHER_ALLOW_HOSTS=127.0.0.1,demo-site``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.http import AddressPolicy
from shared.settings import CommonSettings


class FetcherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_FETCHER_", frozen=True, extra="ignore")

    common: CommonSettings = Field(default_factory=CommonSettings)
    app_id: str = Field(default="newsflow-fetcher", description="also the consumer group")
    # --- HTTP -------------------------------------------------------------
    user_agent: str = "newsflow/0.1 (news ingestion; +https://example.invalid/newsflow)"
    connect_timeout_s: float = 5.0
    read_timeout_s: float = Field(default=15.0, description="longest wait for the next bytes")
    total_timeout_s: float = Field(
        default=30.0, gt=0, description="longest one request may take, redirects included"
    )
    max_bytes: int = Field(
        default=5_000_000, description="largest feed or page body accepted, after decompression"
    )
    max_redirects: int = 5
    max_connections: int = Field(default=100, ge=1, description="open connections per worker")
    # --- what may be reached ------------------------------------------------
    allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "host names, addresses or CIDR networks that may be fetched although they are not "
            "public (loopback, private, link-local); e.g. 127.0.0.1 for local tests"
        ),
    )
    allow_private: bool = Field(
        default=False, description="fetch from any address, private ones included (development)"
    )
    file_roots: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="folders the `files` source kind may read; none: refused"
    )
    # --- politeness -----------------------------------------------------------
    robots: bool = Field(default=True, description="fetch and obey robots.txt")
    robots_agent: str = Field(
        default="newsflow", description="the product token robots.txt groups are matched against"
    )
    robots_ttl_s: float = Field(
        default=24 * 3600.0, description="robots.txt is cached this long (RFC 9309: at most a day)"
    )
    robots_error_ttl_s: float = Field(
        default=600.0,
        description="an unreachable robots.txt (5xx, network) blocks a host this long",
    )
    host_concurrency: int = Field(default=2, ge=1, description="requests in flight per host")
    host_min_delay_s: float = Field(
        default=1.0, ge=0, description="least time between two request starts on one host"
    )
    max_crawl_delay_s: float = Field(
        default=30.0, ge=0, description="a robots.txt Crawl-delay is honoured up to this"
    )
    max_host_wait_s: float = Field(
        default=20.0,
        ge=0,
        description="a request that would wait longer for its host is put off to a later poll",
    )
    max_host_penalty_s: float = Field(
        default=600.0, ge=0, description="longest pause of a host after 429/503 answers"
    )
    # --- polling --------------------------------------------------------------
    concurrent_polls: int = Field(default=16, ge=1, description="sources polled at once per worker")
    item_concurrency: int = Field(
        default=4, ge=1, description="pages of one poll fetched at once (hosts limit this too)"
    )
    max_items_per_poll: int = Field(
        default=100, ge=1, description="pages downloaded per poll; the rest on the next poll, soon"
    )
    max_item_attempts: int = Field(
        default=3,
        ge=1,
        description="tries of a page that fails transiently (timeouts, 5xx) before dead-lettering",
    )
    # A floor against mistakes (an interval of 0.01 s) and against adaptive
    # polling, not a policy: it must stay below any interval an operator sets
    # on purpose, or it silently stretches it (at 10 s, a source set to 5 s
    # was polled every 10 s). What protects a site is per-host pacing
    # (host_min_delay_s, robots.txt Crawl-delay) and conditional requests.
    min_interval_s: float = Field(default=1.0, gt=0, description="no source is polled more often")
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
    # Long enough to spread the first polls of a feed list applied at once
    # (they bring their backlogs, which queue for poll slots anyway), short
    # enough that a new feed is checked within seconds. From its second poll
    # on, each source polls at its phase of its whole interval.
    first_poll_within_s: float = Field(
        default=10.0,
        gt=0,
        description=(
            "a new source is first polled within this long of its registration (or within its "
            "interval if shorter), at a moment of its own, so sources registered together are "
            "not polled in step"
        ),
    )
    adaptive: bool = Field(
        default=True, description="poll sources that publish often more often, quiet ones less"
    )
    adapt_min_factor: float = Field(
        default=0.25, gt=0, description="adaptive polling goes down to this share of the interval"
    )
    adapt_max_factor: float = Field(
        default=8.0, gt=0, description="adaptive polling goes up to this multiple of the interval"
    )
    seen_items: int = Field(
        default=2000, description="item ids remembered per source; more than any feed shows"
    )
    tick_s: float = Field(default=0.5, gt=0, description="how often due sources are looked for")
    poll_request_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description=(
            "a poll asked for and not started within this long is asked for again (its request "
            "may have been lost); a source is never polled twice at once"
        ),
    )
    # --- the group ---------------------------------------------------------------
    session_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="a worker silent this long is taken as dead; its sources move to the others",
    )

    @field_validator("allow_hosts", "file_roots", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def address_policy(self) -> AddressPolicy:
        """Which addresses the fetcher may connect to."""
        return AddressPolicy.from_entries(self.allow_hosts, allow_private=self.allow_private)
