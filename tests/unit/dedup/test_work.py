"""Dedup's internal work messages and its verdict bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.dedup.decide import Article, Decision, fingerprint_record
from services.dedup.fingerprint import fingerprint
from services.dedup.work import DedupWork, decode_work, encode_work, unique_bytes
from shared import codec
from shared.exceptions import PoisonMessage
from shared.models import CleanArticle, UniqueArticle
from tests.unit.dedup.texts import BRIDGE, text

SEEN = datetime.fromtimestamp(1_714_521_600.123, UTC)


def _article(**changes: object) -> CleanArticle:
    fields: dict[str, object] = {
        "id": "a1",
        "source_id": "wire",
        "url": "https://wire.example/a1?utm_source=x",
        "canonical_url": "https://wire.example/a1",
        "fetched_at": datetime(2024, 5, 1, tzinfo=UTC),
        "title": "Bridge to close",
        "text": text(BRIDGE) + '\n\nQuotes "inside", a tab\tand ünïcödé.',
        "published_at": datetime(2024, 4, 30, 22, 15),
        "tags": ["roads"],
    }
    fields.update(changes)
    return CleanArticle.model_validate(fields)


def test_work_carries_the_article_and_its_fingerprint() -> None:
    clean = _article()
    raw = codec.encode(clean)
    fp = fingerprint(clean.text, title=clean.title)
    work = decode_work(encode_work(raw, clean, SEEN, fp))
    assert work.article == Article.from_clean(clean, seen_at=SEEN)
    assert work.article.seen_s == SEEN.timestamp()
    assert fingerprint_record(work.fingerprint) == fingerprint_record(fp)
    assert work.fingerprint.bands == fp.bands
    assert work.article_bytes == raw


def test_the_original_bytes_pass_through_as_they_came() -> None:
    # Pretty-printed, with newlines: a valid message from another producer.
    clean = _article(published_at=None)
    raw = clean.model_dump_json(indent=2).encode()
    fp = fingerprint(clean.text, title=clean.title)
    work = decode_work(encode_work(raw, clean, SEEN, fp))
    assert work.article_bytes == raw
    assert work.article.published_at is None


@pytest.mark.parametrize(
    "decision",
    [
        Decision("unique", "a1"),
        Decision("near", "s0", "b7", 0.8123),
        Decision("exact", "s0", "b7", 1.0),
    ],
)
def test_verdict_bytes_are_the_unique_article(decision: Decision) -> None:
    clean = _article()
    for raw in (codec.encode(clean), clean.model_dump_json(indent=2).encode()):
        got = codec.decode(UniqueArticle, unique_bytes(decision, raw))
        assert got == UniqueArticle(
            kind=decision.kind,
            article=clean,
            story_id=decision.story_id,
            duplicate_of=decision.duplicate_of,
            similarity=decision.similarity,
        )


def test_work_of_the_earlier_form_is_still_read() -> None:
    clean = _article()
    fp = fingerprint(clean.text, title=clean.title)
    legacy = DedupWork(article=clean, seen_at=SEEN, fingerprint=fingerprint_record(fp))
    work = decode_work(codec.encode(legacy))
    assert work.article == Article.from_clean(clean, seen_at=SEEN)
    assert work.fingerprint.bands == fp.bands
    assert codec.decode(CleanArticle, work.article_bytes) == clean


@pytest.mark.parametrize(
    "data",
    [
        None,
        b"",
        b"garbage",
        b"{not json}\n{}",
        b'{"w": 9}\n{}',
        b'{"w": 2, "id": "a"}\n{"text": "x"}',
        b"[]\n[]",
    ],
)
def test_bad_work_is_poison(data: bytes | None) -> None:
    with pytest.raises(PoisonMessage):
        decode_work(data)


def test_work_with_a_broken_fingerprint_is_poison() -> None:
    clean = _article()
    raw = codec.encode(clean)
    good = encode_work(raw, clean, SEEN, fingerprint(clean.text, title=clean.title))
    head, _, body = good.partition(b"\n")
    broken = head.replace(b'"sk":', b'"xx":') + b"\n" + body
    with pytest.raises(PoisonMessage):
        decode_work(broken)
    with pytest.raises(PoisonMessage):
        decode_work(head + b"\n" + b'{"text": 5}')
