"""Source plugins: every kind of feed implements :class:`Source`.

A kind is registered under the entry-point group ``newsflow.sources``; the
fetcher loads it by the name that a :class:`~shared.models.FeedSource`'s
``kind`` gives, so a new kind ships as its own package with no change here.
"""

from __future__ import annotations

from shared.sources.base import (
    ENTRY_POINT_GROUP,
    PollResult,
    PollState,
    Source,
    SourceItem,
    UnknownSourceKind,
    available_kinds,
    load_source,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PollResult",
    "PollState",
    "Source",
    "SourceItem",
    "UnknownSourceKind",
    "available_kinds",
    "load_source",
]
