"""Topic names, in one place. ``tests/unit/test_topics.py`` holds them against
``infra/kafka/topics.yaml`` so that the code and the infra cannot drift."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALL", "CLEAN", "DEADLETTER", "FEEDS", "RAW", "UNIQUE", "Topics"]

FEEDS = "news.feeds"
RAW = "news.raw"
CLEAN = "news.clean"
UNIQUE = "news.unique"
DEADLETTER = "news.deadletter"

ALL = (FEEDS, RAW, CLEAN, UNIQUE, DEADLETTER)


@dataclass(frozen=True)
class Topics:
    """The topic names under an optional prefix.

    Production runs use no prefix; each test gets its own prefix, hence its
    own topics, on the same broker.
    """

    prefix: str = ""

    @property
    def feeds(self) -> str:
        return self.prefix + FEEDS

    @property
    def raw(self) -> str:
        return self.prefix + RAW

    @property
    def clean(self) -> str:
        return self.prefix + CLEAN

    @property
    def unique(self) -> str:
        return self.prefix + UNIQUE

    @property
    def deadletter(self) -> str:
        return self.prefix + DEADLETTER

    def all(self) -> tuple[str, ...]:
        return tuple(self.prefix + name for name in ALL)
