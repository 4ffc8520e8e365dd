"""The dedup worker against real Kafka: exact duplicates by URL and by text."""

from __future__ import annotations

from datetime import UTC, datetime

from shared import codec
from shared.models import CleanArticle, UniqueArticle
from shared.settings import CommonSettings
from tests.helpers import Services, consume, produce

TEXT = (
    "The river authority opened the new flood gates on Friday.\n\n"
    "Engineers said the gates can hold back a surge twice as high as last winter's."
)


def _clean(article_id: str, source: str, text: str = TEXT) -> CleanArticle:
    return CleanArticle(
        id=article_id,
        source_id=source,
        url=f"http://{source}.test/{article_id}",
        canonical_url=f"http://{source}.test/{article_id}",
        fetched_at=datetime.now(UTC),
        title="Flood gates open",
        text=text,
    )


async def test_exact_duplicates_by_url_and_by_text(
    common: CommonSettings, services: Services
) -> None:
    articles = [
        _clean("a1", "wire"),
        # Same text, other URL and outlet, other spacing and case.
        _clean("a2", "courier", TEXT.upper().replace(" ", "  ")),
        # The same URL again from another source (two feeds link one page).
        _clean("a1", "ledger"),
        # The same article redelivered from the same source: no output at all.
        _clean("a1", "wire"),
        _clean("b1", "wire", "A different story about a bakery cooperative and its oven."),
    ]
    await produce(common, common.topics.clean, [(a.id.encode(), codec.encode(a)) for a in articles])
    services.start("dedup")
    records = await consume(common, common.topics.unique, until=lambda r: len(r) >= 4, timeout_s=90)
    verdicts = [codec.decode(UniqueArticle, v) for _, v in records]
    by = {(v.article.id, v.article.source_id): v for v in verdicts}
    assert len(verdicts) == 4, services.logs()  # the redelivery produced nothing
    assert by[("b1", "wire")].kind == "unique"
    # a1 and a2 carry one text; they travel different partitions, so either
    # may arrive first: one is unique, the other its exact duplicate.
    pair = [by[("a1", "wire")], by[("a2", "courier")]]
    assert sorted(v.kind for v in pair) == ["exact", "unique"]
    first = next(v for v in pair if v.kind == "unique")
    copy = next(v for v in pair if v.kind == "exact")
    assert copy.duplicate_of == first.article.id
    assert copy.story_id == first.story_id == first.article.id
    # The same page linked by another feed adds to the coverage of whichever
    # document owns its text.
    assert by[("a1", "ledger")].kind == "exact"
    assert by[("a1", "ledger")].duplicate_of == first.article.id
