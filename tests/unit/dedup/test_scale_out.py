"""The partitioned form of :func:`decide`, as the service runs it, decides as one process.

State is split over partitions by key, as Faust tables are: ``url:``/``sig:``
records on the article id's partition, ``text:`` on the text key's, each LSH
bucket and ``line:`` record on its own key's. Every step reads and writes only
the keys of the partition it runs on; steps pass values along as messages would.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

from services.dedup.decide import (
    Article,
    Decision,
    Evidence,
    InMemoryDeduper,
    SiteChrome,
    exact_match,
    judge,
    near_or_unique,
    probe_bucket,
    records,
    replay,
)
from services.dedup.fingerprint import fingerprint
from tests.unit.dedup.texts import (
    BRIDGE,
    BRIDGE_FOLLOW_UP,
    MARKETS_DAY_1,
    MARKETS_DAY_2,
    ORCHESTRA,
    ZH_METRO,
    text,
)

PARTITIONS = 4
T0 = datetime(2024, 5, 1, tzinfo=UTC)


class Partitions:
    """One dict per partition; a key lives on exactly one."""

    def __init__(self) -> None:
        self.tables: list[dict[str, Any]] = [{} for _ in range(PARTITIONS)]


def step(parts: Partitions, keys: list[str]) -> dict[str, Any]:
    """The one partition that owns all of ``keys`` (a step never spans two)."""
    owners = {zlib.crc32(key.encode()) % PARTITIONS for key in keys}
    assert len(owners) == 1
    return parts.tables[owners.pop()]


class Lookups:
    """Reads of single keys, each from the partition that owns it (as the
    candidates' ``sig:`` records and the ``line:`` records are fetched)."""

    def __init__(self, parts: Partitions) -> None:
        self.parts = parts

    def get(self, key: str, /) -> Any:
        return step(self.parts, [key]).get(key)

    def __setitem__(self, key: str, value: Any, /) -> None:
        raise AssertionError("writes go to their partition in a step of their own")


def decide_partitioned(item: Article, parts: Partitions) -> Decision:
    # 1. Article partition (key: article id): seen before?
    url_key = f"url:{item.id}"
    again = replay(item, step(parts, [url_key]).get(url_key))
    if again is not None:
        for key, value in again.updates:
            step(parts, [key])[key] = value
        return again.decision
    fp = fingerprint(item.text, title=item.title)
    # 2. Text partition (key: exact key): same text seen before?
    if fp.exact_key is not None:
        text_key = f"text:{fp.exact_key}"
        exact = exact_match(item, step(parts, [text_key]).get(text_key))
        if exact is not None:
            for key, value in records(item, fp, exact):
                step(parts, [key])[key] = value
            return exact
    # 3. Band partitions (key: bucket): probe and join, one bucket at a time.
    evidence = Evidence()
    for band in fp.bands:
        bucket_table = step(parts, [band])
        members, bucket_table[band] = probe_bucket(bucket_table.get(band), item.id, item.seen_s)
        evidence.add(members)
    # 4. Article partition again: fetch the candidates' records (each from its
    #    own article partition) and decide; write the records where they live.
    fetched = [(cid, step(parts, [f"sig:{cid}"]).get(f"sig:{cid}")) for cid in evidence.best()]
    chrome = SiteChrome(Lookups(parts), item.seen_s)
    decision = near_or_unique(item, judge(fp, fetched, item.seen_s, chrome=chrome))
    for key, value in records(item, fp, decision):
        step(parts, [key])[key] = value
    # 5. Line partitions: each paragraph's record, on its own key's partition.
    for key, value in chrome.updates(fp.lines, decision.story_id):
        step(parts, [key])[key] = value
    return decision


# Two lines of one site, 20+ words each: content until seen under other stories.
SITE = [
    "Dana Whitlow is a senior reporter who covers transport, planning and local government "
    "for the paper. She previously worked for two regional newspapers and a radio station.",
    "This article was first published by our partner newsroom and is republished here "
    "under a content sharing agreement. Some details may have changed since then.",
]


def stream() -> list[Article]:
    bodies = [
        ("a", text(BRIDGE)),
        ("b", text(ORCHESTRA)),
        ("c", text(["MARLOW (AP) - " + BRIDGE[0], *BRIDGE[1:6]])),
        ("d", text(BRIDGE[:2])),
        ("e", text(BRIDGE_FOLLOW_UP)),
        ("f", MARKETS_DAY_1),
        ("g", MARKETS_DAY_2),
        ("h", text(BRIDGE).upper()),
        ("i", ZH_METRO),
        ("j", "Video"),
        ("k", ""),
        # The site's lines under three stories, then a teaser wrapped in them.
        ("l", text([*ORCHESTRA[2:5], *SITE])),
        ("m", text([*BRIDGE_FOLLOW_UP[:3], *SITE])),
        ("n", text([MARKETS_DAY_2, *SITE])),
        ("o", text([BRIDGE[0], *SITE])),
        ("c", text(["MARLOW (AP) - " + BRIDGE[0], *BRIDGE[1:6]])),
    ]
    return [
        Article(
            id=doc_id,
            canonical_url=f"https://site.example/{doc_id}",
            title="t",
            text=body,
            source="s2" if i == len(bodies) - 1 else "s1",
            seen_at=T0 + timedelta(minutes=i),
        )
        for i, (doc_id, body) in enumerate(bodies)
    ]


def test_partitioned_steps_decide_as_one_process() -> None:
    single = InMemoryDeduper()
    parts = Partitions()
    expected = [single.process(item) for item in stream()]
    got = [decide_partitioned(item, parts) for item in stream()]
    assert got == expected
    assert {d.kind for d in got} == {"unique", "exact", "near"}
    assert got[-2].story_id == "a"  # the teaser, through the site's known lines


def test_partitioned_state_equals_single_state() -> None:
    single = InMemoryDeduper()
    parts = Partitions()
    for item in stream():
        single.process(item)
        decide_partitioned(item, parts)
    merged: dict[str, Any] = {}
    for table in parts.tables:
        assert not merged.keys() & table.keys()
        merged.update(table)
    assert merged == single.store
