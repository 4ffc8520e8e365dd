"""One poll of one source: its new items, their pages, and the source's new state.

The state is a small JSON-able dict (it lives in the ``state`` table, whose
changelog ``newsflow feeds list`` reads as the sources' health): the source's
HTTP validators, when to poll next, its pace, and its health. The keys of the
items already seen are kept apart (the ``seen`` table), because they are
large and change only when something new appears.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from services.fetcher.schedule import (
    adapt,
    backoff_delay,
    first_poll_at,
    next_delay,
    next_poll_at,
    pace,
    phase_of,
)
from services.fetcher.settings import FetcherSettings
from shared.exceptions import PoisonMessage
from shared.http import FetchError, HttpClient, retry_after_s
from shared.models import FeedSource, RawArticle
from shared.sources import PollResult, PollState, SourceItem, UnknownSourceKind, load_source
from shared.sources.common import check_body
from shared.urls import article_id, canonical_url

__all__ = ["ItemError", "PollOutcome", "due_at", "first_due_at", "is_due", "poll_source"]

log = logging.getLogger(__name__)

# Content types accepted as an article page; anything else (images, PDFs,
# archives) is recorded as an item error instead of being passed downstream.
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")
# Longest error text kept in the health record: enough to act on, small enough
# for a compacted changelog that every `feeds list` reads whole.
_MAX_ERROR_CHARS = 500

# A page that failed transiently (timeout, 5xx) is tried again this long
# after at the soonest, later if its server said Retry-After: so that its
# max_item_attempts span a server's blip of some seconds. It used to follow
# from min_interval_s, whose 10 s default was too high a floor for polling.
_ITEM_RETRY_S = 10.0

# A poll request's trip through the polls topic (produce, fetch, dispatch):
# tens of milliseconds on a healthy broker, a quarter second with room to spare.
_POLL_DISPATCH_S = 0.25

Failure = FetchError | PoisonMessage


@dataclass(frozen=True)
class ItemError:
    """An item whose page could not be fetched, with why."""

    item: SourceItem
    reason: str
    error: str


@dataclass
class PollOutcome:
    """What one poll produced.

    ``state`` is the source's new state; ``seen`` its new list of seen item
    keys, or None when it did not change. ``source_error`` is set when the
    source itself failed; ``first_failure`` marks the start of a streak,
    which is when an operator should hear of it.
    """

    articles: list[RawArticle] = field(default_factory=list)
    item_errors: list[ItemError] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    seen: list[str] | None = None
    source_error: Failure | None = None
    first_failure: bool = False


def due_at(state: dict[str, Any] | None) -> float:
    """When a source with ``state`` is due for a poll (epoch seconds; 0 for a new source)."""
    return 0.0 if state is None else float(state.get("next_poll_at", 0.0))


def first_due_at(
    source_id: str, interval_s: float, registered_at: float, settings: FetcherSettings
) -> float:
    """When a source never polled yet, registered at ``registered_at``, is due.

    At its phase (:func:`~services.fetcher.schedule.first_poll_at`), so that
    sources registered together are not all polled at the same moment.
    """
    period = pace(interval_s, min_s=settings.min_interval_s, max_s=settings.max_interval_s)
    return first_poll_at(
        registered_at, period, phase_of(source_id), within_s=settings.first_poll_within_s
    )


def is_due(state: dict[str, Any] | None, now: float) -> bool:
    """Whether a source with ``state`` should be polled at ``now`` (epoch seconds)."""
    return due_at(state) <= now


async def poll_source(
    source: FeedSource,
    state: dict[str, Any] | None,
    http: HttpClient,
    settings: FetcherSettings,
    *,
    seen: list[str] | None = None,
    now: float | None = None,
) -> PollOutcome:
    """Poll ``source`` once and fetch the pages of its unseen items.

    Never raises for the source's or a plugin's own faults: a failing source
    comes back with its failure recorded in the state and its next poll backed
    off; a page that cannot be had comes back as an :class:`ItemError` (at
    once when it never will be, after ``max_item_attempts`` polls when the
    failure was transient).
    """
    now = time.time() if now is None else now
    state = dict(state or {})
    if seen is None:  # state written before seen items had their own table
        seen = list(state.get("seen", []))
    state.pop("seen", None)
    state["polls"] = int(state.get("polls", 0)) + 1
    state["last_poll_at"] = now
    state["kind"] = source.kind
    try:
        poll_state = PollState(**state.get("poll", {}))
        result = await load_source(source.kind).poll(source, poll_state, http)
    except (FetchError, PoisonMessage) as exc:
        return _failed(source, state, exc, now, settings)
    except UnknownSourceKind as exc:
        return _failed(source, state, PoisonMessage("unknown-kind", str(exc)), now, settings)
    except Exception as exc:  # a plugin's bug must cost its source, not the worker
        log.exception("source plugin failed", extra={"source_id": source.id})
        error = PoisonMessage("plugin-error", f"{source.kind}: {type(exc).__name__}: {exc}")
        return _failed(source, state, error, now, settings)
    return await _succeeded(source, state, seen, result, http, settings, now)


def _failed(
    source: FeedSource,
    state: dict[str, Any],
    exc: Failure,
    now: float,
    settings: FetcherSettings,
) -> PollOutcome:
    failures = int(state.get("failures", 0)) + 1
    retry_after = exc.retry_after_s if isinstance(exc, FetchError) else None
    delay = backoff_delay(
        source.interval_s,
        failures,
        retry_after_s=retry_after,
        cap_s=settings.max_backoff_s,
        jitter=settings.jitter,
    )
    state.update(
        failures=failures,
        last_error=str(exc)[:_MAX_ERROR_CHARS],
        last_error_reason=exc.reason,
        last_error_at=now,
        next_poll_at=now + delay,
        interval_s=delay,
    )
    log.warning(
        "source failed",
        extra={
            "source_id": source.id,
            "error": str(exc)[:_MAX_ERROR_CHARS],
            "failures": failures,
            "retry_in_s": round(delay, 1),
        },
    )
    return PollOutcome(state=state, source_error=exc, first_failure=failures == 1)


async def _succeeded(
    source: FeedSource,
    state: dict[str, Any],
    seen: list[str],
    result: PollResult,
    http: HttpClient,
    settings: FetcherSettings,
    now: float,
) -> PollOutcome:
    seen_set = set(seen)
    # Items put off last time are offered again even when the source now
    # answers "not modified": they are kept in the state until done.
    held = [_item_from_json(raw) for raw in state.get("pending_items", [])]
    offered_items = [*result.items, *held]
    fresh = list({i.key: i for i in reversed(offered_items) if i.key not in seen_set}.values())
    fresh.reverse()
    held_keys = {i.key for i in held}
    # New to this source: never offered before (held items were counted then).
    new = sum(1 for i in fresh if i.key not in held_keys)
    # Downloads per poll are capped so one huge sitemap cannot hold a poll
    # slot for an hour; the rest stay unseen and come first next time.
    batch: list[SourceItem] = []
    downloads = 0
    for item in fresh:
        if item.body is None:
            if downloads == settings.max_items_per_poll:
                continue
            downloads += 1
        batch.append(item)
    deferred = len(batch) < len(fresh)

    outcome = PollOutcome()
    attempts: dict[str, int] = dict(state.get("retry", {}))
    retry_after = 0.0
    in_batch = {i.key for i in batch}
    put_off = [i for i in fresh if i.key not in in_batch]
    fetched = await _fetch_items(source, batch, http, settings)
    for item, got in zip(batch, fetched, strict=True):
        if got is None:  # not tried: its host asked us to wait
            deferred = True
            put_off.append(item)
            continue
        if isinstance(got, RawArticle):
            outcome.articles.append(got)
        elif isinstance(got, FetchError) and got.transient:
            tries = attempts.get(item.key, 0) + 1
            if tries < settings.max_item_attempts:
                attempts[item.key] = tries
                deferred = True
                put_off.append(item)
                retry_after = max(retry_after, got.retry_after_s or _ITEM_RETRY_S)
                continue
            outcome.item_errors.append(
                ItemError(item, got.reason, f"{got} (after {tries} attempts)")
            )
        else:
            outcome.item_errors.append(ItemError(item, got.reason, str(got)))
        attempts.pop(item.key, None)
        seen.append(item.key)
    offered = {i.key for i in fresh}
    attempts = {key: n for key, n in attempts.items() if key in offered}
    pending_items = [_item_to_json(i) for i in put_off[: settings.seen_items]]

    first_success = "last_success_at" not in state
    factor = float(state.get("adapt", 1.0))
    if settings.adaptive and not first_success:
        factor = adapt(
            factor,
            found_new=new > 0,
            lo=settings.adapt_min_factor,
            hi=settings.adapt_max_factor,
        )
    min_s, max_s = settings.min_interval_s, settings.max_interval_s
    period = pace(source.interval_s * factor, ttl_s=result.ttl_s, min_s=min_s, max_s=max_s)
    delay = next_delay(
        source.interval_s * factor,
        ttl_s=result.ttl_s,
        min_s=min_s,
        max_s=max_s,
        jitter=settings.jitter,
    )
    due = state.get("next_poll_at")
    # A source has a rhythm to keep once it was polled successfully on its
    # own schedule; its first success, its first after a failure streak
    # (backoff) and its first after polls that came back early for waiting
    # work start a new one, at its phase.
    in_rhythm = not (first_success or state.get("failures") or state.get("pending"))
    # The wait a due poll may have had: up to one tick of the scheduler, then
    # its round trip through the polls topic.
    catch_up = settings.tick_s + _POLL_DISPATCH_S
    next_at = next_poll_at(
        now,
        float(due) if due is not None and in_rhythm else None,
        delay,
        catch_up_s=catch_up,
        period=period,
        phase=phase_of(source.id),
    )
    if deferred or result.more:
        # Work is waiting: come back soon, but not before a host said we may.
        delay = min(delay, max(settings.min_interval_s, min(retry_after, settings.max_interval_s)))
        next_at = now + delay
    total = len(result.items)
    state.update(
        poll=result.state.model_dump(),
        failures=0,
        last_success_at=now,
        next_poll_at=next_at,
        interval_s=delay,
        items_seen=int(state.get("items_seen", 0)) + new,
        new_share=(new / total) if total else 0.0,
        not_modified=result.not_modified,
        adapt=factor,
        retry=attempts,
        pending_items=pending_items,
        pending=deferred or result.more,
    )
    if new:
        state["last_new_at"] = now
    if result.final_url and result.final_url != source.url:
        state["final_url"] = result.final_url
    else:
        state.pop("final_url", None)
    outcome.state = state
    if len(seen) != len(seen_set):
        outcome.seen = seen[-settings.seen_items :]
    return outcome


def _item_to_json(item: SourceItem) -> dict[str, Any]:
    return {
        "url": item.url,
        "guid": item.guid,
        "title": item.title,
        "published_at": item.published_at.isoformat() if item.published_at else None,
    }


def _item_from_json(raw: dict[str, Any]) -> SourceItem:
    published = raw.get("published_at")
    return SourceItem(
        url=str(raw["url"]),
        guid=raw.get("guid"),
        title=raw.get("title"),
        published_at=datetime.fromisoformat(published) if published else None,
    )


async def _fetch_items(
    source: FeedSource, items: list[SourceItem], http: HttpClient, settings: FetcherSettings
) -> list[RawArticle | Failure | None]:
    """Each item's article or failure, in order; None for items not tried."""
    gate = asyncio.Semaphore(settings.item_concurrency)
    throttled = False

    async def one(item: SourceItem) -> RawArticle | Failure | None:
        nonlocal throttled
        async with gate:
            if throttled:
                return None
            try:
                return await _fetch_item(source, item, http)
            except FetchError as exc:
                if exc.reason == "host-throttled":
                    throttled = True  # the host's other pages would wait just the same
                return exc
            except PoisonMessage as exc:
                return exc

    return list(await asyncio.gather(*(one(item) for item in items)))


async def _fetch_item(source: FeedSource, item: SourceItem, http: HttpClient) -> RawArticle:
    fetched_at = datetime.now(UTC)
    if item.body is not None:
        final_url, body, body_kind, content_type = item.url, item.body, item.body_kind, ""
        status = 200
    else:
        if not item.url.startswith(("http://", "https://")):
            raise PoisonMessage("bad-url", f"{item.url!r}: not an http(s) link")
        response = await http.get(item.url)
        status = response.status
        if status >= 300:
            raise FetchError(
                f"http-{status}",
                f"{item.url}: HTTP {status}",
                retry_after_s=retry_after_s(response.headers),
            )
        if response.content_type not in _PAGE_TYPES:
            raise PoisonMessage("not-a-page", f"{item.url}: content type {response.content_type}")
        check_body(item.url, response.content)
        final_url, body, content_type = response.final_url, response.text(), response.content_type
        body_kind = "text" if content_type == "text/plain" else "html"
    try:
        return RawArticle(
            id=article_id(canonical_url(final_url)),
            source_id=source.id,
            source_kind=source.kind,
            url=item.url,
            final_url=final_url,
            fetched_at=fetched_at,
            content_type=content_type or ("text/plain" if body_kind == "text" else "text/html"),
            body_kind=body_kind,
            body=body,
            http_status=status,
            feed_title=item.title,
            feed_published_at=item.published_at,
            guid=item.guid,
        )
    except ValidationError as exc:
        raise PoisonMessage("invalid-article", f"{item.url}: {exc}"[:_MAX_ERROR_CHARS]) from exc
