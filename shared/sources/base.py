"""The source plugin interface and its registry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from shared.exceptions import NewsflowError
from shared.http import HttpClient
from shared.models import FeedSource

ENTRY_POINT_GROUP = "newsflow.sources"


class UnknownSourceKind(NewsflowError):
    """No installed plugin provides the requested kind."""


class PollState(BaseModel):
    """What a source remembers between polls: HTTP validators and anything of its own."""

    model_config = ConfigDict(frozen=True)

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    extra: dict[str, Any] = {}


@dataclass(frozen=True)
class SourceItem:
    """One entry a source offers: a link to an article, or the article itself.

    When ``body`` is given (a local file, a text dump) the fetcher does not
    download ``url``; otherwise it fetches the page. ``body_kind`` says what
    ``body`` is: an HTML page or a plain-text dump of one.
    """

    url: str
    guid: str | None = None
    title: str | None = None
    published_at: datetime | None = None
    body: str | None = None
    body_kind: Literal["html", "text"] = "html"

    @property
    def key(self) -> str:
        """What identifies the item across polls: its GUID, else its link."""
        return self.guid or self.url


@dataclass(frozen=True)
class PollResult:
    """The outcome of one poll.

    ``items`` are all entries the source shows now (the fetcher skips those it
    has seen); ``not_modified`` says the server answered 304 or the body did
    not change; ``ttl_s`` is the source's own hint for the next poll, if any
    (a feed's ``<ttl>``, the response's Cache-Control max-age); ``final_url``
    is where the source's own URL led after redirects; ``more`` says the
    source holds back further items it will offer on the next poll (so that
    poll should come soon).
    """

    items: list[SourceItem] = field(default_factory=list)
    state: PollState = field(default_factory=PollState)
    not_modified: bool = False
    ttl_s: float | None = None
    final_url: str | None = None
    more: bool = False


@runtime_checkable
class Source(Protocol):
    """A kind of source. One instance serves every source of its kind."""

    async def poll(self, source: FeedSource, state: PollState, http: HttpClient) -> PollResult:
        """Fetch the source's current entries.

        Raises :class:`~shared.http.FetchError` when the source cannot be read
        now and :class:`~shared.exceptions.PoisonMessage` when what it serves
        can never be parsed (both are recorded as the source's error).
        """
        ...


def available_kinds() -> list[str]:
    """The names of every installed source kind."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


@cache
def load_source(kind: str) -> Source:
    """The plugin registered as ``kind``, loaded on first use."""
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == kind]
    if not matches:
        raise UnknownSourceKind(
            f"no source kind {kind!r}; installed: {', '.join(available_kinds()) or 'none'}"
        )
    try:
        factory = matches[0].load()
    except ImportError as exc:
        raise UnknownSourceKind(
            f"source kind {kind!r} needs a package that is not installed ({exc.name}); "
            f"install the plugin's dependencies, e.g. pip install {exc.name}"
        ) from exc
    source = factory()
    if not isinstance(source, Source):
        raise UnknownSourceKind(f"{matches[0].value} does not implement newsflow's Source")
    return source
