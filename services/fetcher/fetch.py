"""One poll of one source: its new items, their pages, and the source's new state.

The state is a JSON-able dict (it lives in a Faust table): the source's HTTP
validators, the item keys already seen, when to poll next, and its health.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.fetcher.schedule import backoff_delay, next_delay
from services.fetcher.settings import FetcherSettings
from shared.exceptions import PoisonMessage
from shared.http import FetchError, HttpClient
from shared.models import FeedSource, RawArticle
from shared.sources import PollState, SourceItem, load_source
from shared.urls import article_id, canonical_url

__all__ = ["ItemError", "PollOutcome", "is_due", "poll_source"]

log = logging.getLogger(__name__)

# Content types accepted as an article page; anything else (images, PDFs,
# archives) is recorded as an item error instead of being passed downstream.
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")


@dataclass(frozen=True)
class ItemError:
    """An item whose page could not be fetched, with why."""

    item: SourceItem
    reason: str
    error: str


@dataclass
class PollOutcome:
    articles: list[RawArticle] = field(default_factory=list)
    item_errors: list[ItemError] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    # Set when the source itself failed; ``first_failure`` marks the start of
    # a streak, which is when an operator should hear of it.
    source_error: FetchError | PoisonMessage | None = None
    first_failure: bool = False


def is_due(state: dict[str, Any] | None, now: float) -> bool:
    """Whether a source with ``state`` should be polled at ``now`` (epoch seconds)."""
    return state is None or float(state.get("next_poll_at", 0.0)) <= now


async def poll_source(
    source: FeedSource,
    state: dict[str, Any] | None,
    http: HttpClient,
    settings: FetcherSettings,
    now: float | None = None,
) -> PollOutcome:
    """Poll ``source`` once and fetch the pages of its unseen items.

    Never raises for the source's own faults: a failing source comes back with
    its failure recorded in the state and its next poll backed off.
    """
    now = time.time() if now is None else now
    state = dict(state or {})
    poll_state = PollState(**state.get("poll", {}))
    seen: list[str] = list(state.get("seen", []))
    state["polls"] = int(state.get("polls", 0)) + 1
    try:
        result = await load_source(source.kind).poll(source, poll_state, http)
    except (FetchError, PoisonMessage) as exc:
        failures = int(state.get("failures", 0)) + 1
        retry_after = getattr(exc, "retry_after_s", None)
        delay = backoff_delay(
            source.interval_s,
            failures,
            retry_after_s=retry_after,
            cap_s=settings.max_backoff_s,
            jitter=settings.jitter,
        )
        state.update(
            failures=failures, last_error=str(exc), last_error_at=now, next_poll_at=now + delay
        )
        log.warning(
            "source failed",
            extra={
                "source_id": source.id,
                "error": str(exc),
                "failures": failures,
                "retry_in_s": round(delay, 1),
            },
        )
        return PollOutcome(state=state, source_error=exc, first_failure=failures == 1)

    outcome = PollOutcome()
    seen_set = set(seen)
    new_items = [item for item in result.items if item.key not in seen_set]
    for item in new_items:
        try:
            outcome.articles.append(await _fetch_item(source, item, http))
        except FetchError as exc:
            outcome.item_errors.append(ItemError(item, exc.reason, str(exc)))
        seen.append(item.key)
    delay = next_delay(
        source.interval_s,
        ttl_s=result.ttl_s,
        min_s=settings.min_interval_s,
        max_s=settings.max_interval_s,
        jitter=settings.jitter,
    )
    total = len(result.items)
    state.update(
        poll=result.state.model_dump(),
        seen=seen[-settings.seen_items :],
        failures=0,
        last_success_at=now,
        next_poll_at=now + delay,
        items_seen=int(state.get("items_seen", 0)) + len(new_items),
        new_share=(len(new_items) / total) if total else 0.0,
        not_modified=result.not_modified,
    )
    outcome.state = state
    return outcome


async def _fetch_item(source: FeedSource, item: SourceItem, http: HttpClient) -> RawArticle:
    fetched_at = datetime.now(UTC)
    if item.body is not None:
        final_url, body, body_kind, content_type = item.url, item.body, item.body_kind, ""
    else:
        response = await http.get(item.url)
        if response.status >= 400:
            raise FetchError(f"http-{response.status}", f"{item.url}: HTTP {response.status}")
        if response.content_type not in _PAGE_TYPES:
            raise FetchError("not-a-page", f"{item.url}: content type {response.content_type}")
        final_url, body, content_type = response.final_url, response.text(), response.content_type
        body_kind = "text" if content_type == "text/plain" else "html"
    return RawArticle(
        id=article_id(canonical_url(final_url)),
        source_id=source.id,
        source_kind=source.kind,
        url=item.url,
        final_url=final_url,
        fetched_at=fetched_at,
        content_type=content_type or "text/html",
        body_kind=body_kind,
        body=body,
        feed_title=item.title,
        feed_published_at=item.published_at,
        guid=item.guid,
    )
