"""The dedup decision: kinds, stories, bad input, state and expiry."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.dedup.decide import (
    Article,
    Decision,
    DedupConfig,
    fingerprint_from_record,
    fingerprint_record,
    judge,
)
from services.dedup.fingerprint import fingerprint, overlap
from services.dedup.keys import KeyIndex, Probe, article_keys
from services.dedup.resolve import InMemoryDeduper, chrome_flags, plan, record_key
from shared.models import CleanArticle, UniqueArticle
from tests.unit.dedup.texts import (
    BRIDGE,
    BRIDGE_FOLLOW_UP,
    MARKETS_DAY_1,
    MARKETS_DAY_2,
    ORCHESTRA,
    ZH_AGENCY_PREFIX,
    ZH_METRO,
    ZH_RAIN,
    text,
)

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def article(
    id: str, body: str, *, minutes: float = 0, source: str = "s1", title: str = "A headline"
) -> Article:
    return Article(
        id=id,
        canonical_url=f"https://{source}.example/{id}",
        title=title,
        text=body,
        source=source,
        seen_at=T0 + timedelta(minutes=minutes),
    )


# Chrome is told from every earlier article here (no lag), so that a few
# articles of history suffice; the lag has a test of its own.
NO_LAG = DedupConfig(chrome_lag=0)


def run(*articles: Article, deduper: InMemoryDeduper | None = None) -> list[Decision]:
    deduper = deduper or InMemoryDeduper(NO_LAG)
    return [deduper.process(a) for a in articles]


# --- kinds and stories --------------------------------------------------------------


def test_first_article_is_unique_and_starts_its_story() -> None:
    [first] = run(article("a", text(BRIDGE)))
    assert first == Decision("unique", "a")


def test_same_text_under_another_url_is_exact() -> None:
    reflowed = text(BRIDGE).upper().replace("\n\n", "\n")
    decisions = run(article("a", text(BRIDGE)), article("b", reflowed, minutes=5, source="s2"))
    assert decisions[1] == Decision("exact", "a", "a", 1.0)


def test_syndicated_copy_is_near_and_joins_the_story() -> None:
    copy_ = [
        "MARLOW (Reuters) - " + BRIDGE[0],
        *BRIDGE[1:5],
        BRIDGE[5].replace("about 38 million", "roughly 38 million"),
        "(Reporting by Ana Lowe; Editing by Sam Holt)",
    ]
    decisions = run(article("a", text(BRIDGE)), article("b", text(copy_), minutes=30))
    assert decisions[1].kind == "near"
    assert decisions[1].story_id == "a"
    assert decisions[1].duplicate_of == "a"
    assert decisions[1].similarity is not None and 0.5 <= decisions[1].similarity < 1.0


def test_story_id_is_the_first_article_of_a_chain() -> None:
    b_text = text(BRIDGE[:7])  # trimmed
    c_text = text(BRIDGE[:6]) + "\n\nComments are closed for this article."
    decisions = run(
        article("a", text(BRIDGE)),
        article("b", b_text, minutes=1),
        article("c", c_text, minutes=2),
    )
    assert [d.story_id for d in decisions] == ["a", "a", "a"]


def test_teaser_after_its_original_is_near() -> None:
    teaser = text([*BRIDGE[:2], "Continue reading…"])
    decisions = run(article("full", text(BRIDGE)), article("teaser", teaser, minutes=3))
    assert decisions[1].kind == "near"
    assert decisions[1].story_id == "full"


def test_teaser_before_its_original_gives_the_story_its_id() -> None:
    teaser = text(["Advertisement", *BRIDGE[:2], "Read more at the source."])
    decisions = run(article("teaser", teaser), article("full", text(BRIDGE), minutes=3))
    assert decisions[0] == Decision("unique", "teaser")
    assert decisions[1].kind == "near"
    assert decisions[1].story_id == "teaser"


def test_short_teaser_of_a_long_article_is_judged_on_the_exact_leads() -> None:
    """Against a long text the sketch sees only a sample of a short teaser's
    shingles; the leads are kept whole and decide instead."""
    rng = random.Random(8)
    filler = [" ".join(f"w{rng.randrange(100_000)}" for _ in range(40)) for _ in range(40)]
    long_original = text([*BRIDGE, *filler])
    teaser = text(["NEW YORK, May 21 (Reuters) - " + BRIDGE[0], "Continue reading…"])
    sampled = overlap(fingerprint(teaser).sketch, fingerprint(long_original).sketch)
    assert sampled.containment < 0.8  # the sample alone would miss it
    decisions = run(article("full", long_original), article("teaser", teaser, minutes=5))
    assert decisions[1].kind == "near"
    assert decisions[1].story_id == "full"


def test_full_copy_is_preferred_over_a_teaser_as_duplicate_of() -> None:
    decisions = run(
        article("full", text(BRIDGE)),
        article("teaser", text(BRIDGE[:2]), minutes=1),
        article("copy", text(BRIDGE) + "\n\nAll rights reserved.", minutes=2),
    )
    assert decisions[2].duplicate_of == "full"


def test_follow_up_reusing_background_is_its_own_story() -> None:
    decisions = run(article("a", text(BRIDGE)), article("b", text(BRIDGE_FOLLOW_UP), minutes=60))
    assert decisions[1] == Decision("unique", "b")


def test_follow_up_with_only_short_new_paragraphs_is_its_own_story() -> None:
    """Short foreign paragraphs are forgiven in containment (they look like
    site lines); a different opening is what keeps this follow-up apart."""
    follow_up = [
        "Queues formed on the ring road on Monday after the bridge closed.",
        "Schools near the ring road asked parents to allow extra time.",
        *BRIDGE[1:4],
        "The council will review traffic lights at three junctions.",
    ]
    decisions = run(article("a", text(BRIDGE)), article("b", text(follow_up), minutes=60))
    assert decisions[1] == Decision("unique", "b")


def test_one_sentence_snippet_is_too_short_to_match() -> None:
    """A headline and site lines do not make a one-sentence snippet long
    enough for near matching: what it shares must be, on its own."""
    opening = "The council voted on Tuesday to close the Kessel Bridge to cars."
    snippet = text(["Council shuts bridge to cars after cracks found", opening, "Read more."])
    decisions = run(article("a", text([opening, *BRIDGE[1:]])), article("b", snippet, minutes=5))
    assert decisions[1] == Decision("unique", "b")


def test_teasers_sharing_only_site_lines_are_not_merged() -> None:
    chrome_top = [
        "Sign up for our morning newsletter to get the day's top stories in your inbox.",
        "Our journalism depends on readers like you. Subscribe today for full access.",
    ]
    chrome_bottom = ["Download our app for breaking news alerts on your phone."]
    # Each story told in short lines, as some extractors split sentences.
    bridge = [
        "The council of Marlow voted on Tuesday to close the Kessel Bridge to cars.",
        "Engineers found deep cracks in two of its supporting piers in the spring.",
        "The bridge carries about 14,000 vehicles a day across the river Arden.",
    ]
    orchestra = [
        "The Halden Youth Orchestra will tour five countries this autumn.",
        "It is the first journey abroad since music teachers founded it.",
        "Ninety young musicians will play in Vienna, Prague and Budapest.",
    ]
    library = [
        "The city library will stay open until nine in the evening from next month.",
        "Evening visitors asked for the change, the head librarian said.",
        "A study room and an e-book loan service will open at the same time.",
    ]
    decisions = run(
        article("a", text([*chrome_top, *bridge, *chrome_bottom])),
        article("b", text([*chrome_top, *orchestra, *chrome_bottom]), minutes=5),
        # The story where a site's lines also go, after lines both share:
        article("c", text([*chrome_top, *library]), minutes=6),
    )
    assert decisions[1] == Decision("unique", "b")
    assert decisions[2] == Decision("unique", "c")


@pytest.mark.xfail(
    strict=True,
    reason="site lines outweighing a short story, before they have turned up in "
    "other stories: nothing tells them from the story yet (see the test after)",
)
def test_teasers_sharing_more_site_text_than_story_are_not_merged() -> None:
    chrome = [
        "Sign up for our morning newsletter to get the day's top stories in your inbox.",
        "Our journalism depends on readers like you. Subscribe today for full access.",
        "Download our app for breaking news alerts on your phone.",
    ]
    bridge = [
        "The council of Marlow voted on Tuesday to close the Kessel Bridge to cars.",
        "Engineers found deep cracks in two of its supporting piers in the spring.",
        "The bridge carries about 14,000 vehicles a day across the river Arden.",
    ]
    library = [
        "The city library will stay open until nine in the evening from next month.",
        "Evening visitors asked for the change, the head librarian said.",
        "A study room and an e-book loan service will open at the same time.",
    ]
    decisions = run(
        article("a", text([*chrome[:2], *bridge, chrome[2]])),
        article("b", text([*chrome, *library[:2]]), minutes=5),
    )
    assert decisions[1] == Decision("unique", "b")


def test_teasers_sharing_more_site_text_than_story_are_not_merged_once_it_is_known() -> None:
    chrome = [
        "Sign up for our morning newsletter to get the day's top stories in your inbox.",
        "Our journalism depends on readers like you. Subscribe today for full access.",
        "Download our app for breaking news alerts on your phone.",
    ]
    bridge = [
        "The council of Marlow voted on Tuesday to close the Kessel Bridge to cars.",
        "Engineers found deep cracks in two of its supporting piers in the spring.",
        "The bridge carries about 14,000 vehicles a day across the river Arden.",
    ]
    library = [
        "The city library will stay open until nine in the evening from next month.",
        "Evening visitors asked for the change, the head librarian said.",
        "A study room and an e-book loan service will open at the same time.",
    ]
    a = article("a", text([*chrome[:2], *bridge, chrome[2]]), minutes=5)
    b = article("b", text([*chrome, *library[:2]]), minutes=6)
    assert run(*site_history(chrome), a, b)[-1] == Decision("unique", "b")


# --- site chrome -------------------------------------------------------------------

# A site's own lines, long enough (20+ words) to count as content wherever
# they stand, until they have turned up under other stories.
SITE_LINES = [
    "Dana Whitlow is a senior reporter who covers transport, planning and local government "
    "for the paper. She previously worked for two regional newspapers and a radio station.",
    "This article was first published by our partner newsroom and is republished here "
    "under a content sharing agreement. Some details may have changed since then.",
    "We welcome corrections and comments from readers. Write to the readers' editor, whose "
    "replies to the most common questions appear in the weekend edition every month.",
]


def site_history(lines: list[str], minutes: float = -60) -> list[Article]:
    """Three unrelated stories from one site, each carrying ``lines``."""
    bodies = [ORCHESTRA[2:], [MARKETS_DAY_1], [MARKETS_DAY_2]]
    return [
        article(f"h{i}", text([*body, *lines]), minutes=minutes + i, source="site")
        for i, body in enumerate(bodies)
    ]


def test_teaser_wrapped_in_known_site_lines_matches_its_story() -> None:
    teaser = article("t", text([BRIDGE[0], *SITE_LINES[:2]]), minutes=5, source="site")
    original = article("full", text(BRIDGE), source="wire")
    # Until its lines are known, the teaser is mostly text its original lacks.
    assert run(original, teaser)[1] == Decision("unique", "t")
    decisions = run(*site_history(SITE_LINES[:2]), original, teaser)
    assert decisions[-1].kind == "near"
    assert decisions[-1].story_id == "full"


def test_teaser_larger_than_its_short_original_matches_once_site_lines_are_known() -> None:
    """The site lines make the teaser the larger text: containment is taken
    in whichever direction holds."""
    short = [*ORCHESTRA[:2], ORCHESTRA[4]]
    teaser = text([ORCHESTRA[0], ORCHESTRA[1], *SITE_LINES])
    assert fingerprint(teaser).sketch.size > fingerprint(text(short)).sketch.size
    original = article("o", text(short), source="wire")
    copy_ = article("t", teaser, minutes=5, source="site")
    history = site_history(SITE_LINES)[1:]  # not the orchestra's own paragraphs
    history.append(article("h9", text([*BRIDGE_FOLLOW_UP[:3], *SITE_LINES]), minutes=-50))
    assert run(original, copy_)[1] == Decision("unique", "t")
    decisions = run(*history, original, copy_)
    assert decisions[-1].kind == "near"
    assert decisions[-1].story_id == "o"


def test_known_site_lines_at_the_top_are_left_out_of_the_lead() -> None:
    """Prose lines a site puts first fill a teaser's lead; once known as
    chrome they no longer stand for its opening."""
    top = [
        "Follow us on social media for the latest updates from our newsroom.",
        "Our journalism depends on readers like you, so please subscribe today.",
        "Listen to this article with our new audio player, available on all devices.",
    ]
    teaser = article("t", text([*top, *BRIDGE[:2], "Read more."]), minutes=5, source="site")
    original = article("full", text(BRIDGE), source="wire")
    assert run(original, teaser)[1] == Decision("unique", "t")
    decisions = run(*site_history(top), original, teaser)
    assert decisions[-1].kind == "near"
    assert decisions[-1].story_id == "full"


def test_known_site_lines_alone_do_not_make_two_articles_one_story() -> None:
    first = article("a", text([BRIDGE[0], *SITE_LINES]), minutes=5, source="site")
    second = article("b", text([ORCHESTRA[0], *SITE_LINES]), minutes=6, source="site")
    # Unknown, the shared lines outweigh the two stories: one story.
    assert run(first, second)[1].story_id == "a"
    assert run(*site_history(SITE_LINES), first, second)[-1] == Decision("unique", "b")


def chrome_of(deduper: InMemoryDeduper, body: str, *, minutes: float = 0) -> list[bool]:
    """Which paragraphs of ``body`` the deduper's state knows as site chrome."""
    item = article("probe", body, minutes=minutes)
    fp = fingerprint(body)
    keys = tuple(article_keys(item.id, fp))
    assert deduper.index is not None
    answer = deduper.index.probe(Probe(item.id, 10**9, item.seen_s, item.source, keys))
    steps = plan(item, fp, answer)
    records = {cid: deduper.records.get(record_key(cid)) for cid in steps.needs}
    flags = chrome_flags(steps, records, deduper.config)
    return [False] * len(fp.lines) if flags is None else flags.tolist()


def test_a_storys_own_paragraphs_never_become_site_chrome() -> None:
    """However many copies repeat them, a story's paragraphs are seen in one story."""
    deduper = InMemoryDeduper(NO_LAG)
    copies = [
        article(f"c{i}", text([*BRIDGE[: 8 - i % 3], f"Issue {i}."]), minutes=i, source=f"s{i}")
        for i in range(1, 8)
    ]
    decisions = run(article("a", text(BRIDGE)), *copies, deduper=deduper)
    assert {d.story_id for d in decisions} == {"a"}
    assert not any(chrome_of(deduper, text(BRIDGE), minutes=10))
    assert not any("cf" in record for record in deduper.records.values())


def test_site_lines_seen_in_enough_stories_are_flagged() -> None:
    body = text([BRIDGE[0], SITE_LINES[0]])
    deduper = InMemoryDeduper(NO_LAG)
    run(*site_history(SITE_LINES[:1]), deduper=deduper)
    assert chrome_of(deduper, body) == [False, True]
    two_stories = InMemoryDeduper(NO_LAG)
    run(*site_history(SITE_LINES[:1])[:2], deduper=two_stories)
    assert not any(chrome_of(two_stories, body))
    # Known chrome is forgotten with the window like everything else.
    later = (DedupConfig().window_s + 3600) / 60
    assert not any(chrome_of(deduper, body, minutes=later))


def test_chrome_is_told_from_articles_decided_a_while_ago() -> None:
    """The newest ``chrome_lag`` articles do not count: a worker need not wait
    for its neighbours' latest decisions to know a site's chrome."""
    config = DedupConfig(chrome_lag=20)
    teaser = article("t", text([BRIDGE[0], *SITE_LINES[:2]]), minutes=5, source="site")
    original = article("full", text(BRIDGE), source="wire")
    history = site_history(SITE_LINES[:2])
    assert run(*history, original, teaser, deduper=InMemoryDeduper(config))[-1].kind == "unique"
    filler = [
        article(f"f{i}", f"Notice {i}: the library opens at nine.", minutes=i / 10)
        for i in range(20)
    ]
    decisions = run(*history, *filler, original, teaser, deduper=InMemoryDeduper(config))
    assert decisions[-1].kind == "near"


def test_line_entries_keep_the_newest_articles_one_entry_each() -> None:
    config = DedupConfig(line_entries=2, window_s=1000, chrome_lag=0)
    index = KeyIndex(config)
    key = "line:00000000000000aa"

    def probe(article_id: str, s: int, ts: float) -> Any:
        return index.probe(Probe(article_id, s, ts, "src", (key,)))[key]

    assert probe("a", 0, 100.0) == []
    assert probe("b", 1, 200.0) == ["a"]
    assert probe("a", 2, 300.0) == ["b"]  # not itself; and it stays there once
    assert probe("c", 3, 400.0) == ["a", "b"]
    assert probe("d", 4, 500.0) == ["b", "c"]  # the newest two
    # Asked again, a probe answers what was there before it, whatever came since.
    assert probe("c", 3, 400.0) == ["a", "b"]
    assert probe("e", 5, 1250.0) == ["c", "d"]  # "a" and "b" are out of the window


def test_signature_records_without_lines_are_still_judged() -> None:
    """Records written before lines were stored carry no ``ln`` nor ``lg``."""
    deduper = InMemoryDeduper()
    deduper.process(article("o", text(BRIDGE)))
    record = {k: v for k, v in deduper.records["a:o"].items() if k not in ("ln", "lg")}
    fp = fingerprint(text(BRIDGE[:2]))
    match = judge(fp, [("o", record)], T0.timestamp())
    assert match is not None and match.story_id == "o"
    work = {k: v for k, v in fingerprint_record(fp).items() if k not in ("ln", "lg")}
    assert len(fingerprint_from_record(work).lines) == 0
    assert len(fingerprint_from_record(work).lead_segments) == 0
    again = fingerprint_from_record(fingerprint_record(fp))
    assert again.lines.tolist() == fp.lines.tolist()
    assert again.lead_segments.tolist() == fp.lead_segments.tolist()


def test_teaser_with_one_figure_of_two_changed_is_another_story() -> None:
    first = MARKETS_DAY_1.split("\n\n")[0]
    other_day = first.replace("0.42 percent", "0.87 percent")  # one figure of two
    decisions = run(
        article("mon", MARKETS_DAY_1), article("tue", text([other_day, "Read more."]), minutes=5)
    )
    assert decisions[1] == Decision("unique", "tue")


def test_unrelated_article_is_unique() -> None:
    decisions = run(article("a", text(BRIDGE)), article("b", text(ORCHESTRA), minutes=1))
    assert decisions[1] == Decision("unique", "b")


def test_templated_stories_with_other_figures_are_not_merged() -> None:
    decisions = run(article("mon", MARKETS_DAY_1), article("tue", MARKETS_DAY_2, minutes=1440))
    assert decisions[1] == Decision("unique", "tue")


def test_copy_of_a_templated_story_still_matches() -> None:
    copy_ = MARKETS_DAY_2.replace("in a busy session", "in busy trading") + "\n\nData: exchange."
    decisions = run(
        article("mon", MARKETS_DAY_1),
        article("tue", MARKETS_DAY_2, minutes=1440),
        article("tue-copy", copy_, minutes=1450),
    )
    assert decisions[2].story_id == "tue"


def test_chinese_copy_is_near_and_other_chinese_story_unique() -> None:
    copy_ = ZH_AGENCY_PREFIX + ZH_METRO.replace("非常方便", "十分方便")
    decisions = run(
        article("zh", ZH_METRO),
        article("zh-copy", copy_, minutes=1),
        article("zh-other", ZH_RAIN, minutes=2),
    )
    assert decisions[1].kind == "near" and decisions[1].story_id == "zh"
    assert decisions[2] == Decision("unique", "zh-other")


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   \n\t  "])
def test_empty_texts_are_each_unique_and_write_no_text_key(blank: str) -> None:
    deduper = InMemoryDeduper()
    decisions = run(
        article("a", blank, title=""),
        article("b", blank, title="", minutes=1),
        deduper=deduper,
    )
    assert decisions == [Decision("unique", "a"), Decision("unique", "b")]
    assert deduper.index is not None
    assert not any(key.startswith(("text:", "band:")) for key, _ in deduper.index.items())
    assert not any("sk" in record for record in deduper.records.values())


def test_one_word_texts_match_only_exactly_and_with_their_title() -> None:
    decisions = run(
        article("a", "Video", title="Storm hits coast"),
        article("b", "Video", title="Council closes bridge", minutes=1),
        article("c", "video", title="Storm hits coast", minutes=2),
    )
    assert decisions[1] == Decision("unique", "b")
    assert decisions[2] == Decision("exact", "a", "a", 1.0)


def test_short_texts_are_not_near_matched() -> None:
    short = "The council voted on Tuesday to close the old bridge to cars next month."
    decisions = run(article("a", short), article("b", short.replace("Tuesday", "Monday")))
    assert decisions[1] == Decision("unique", "b")


def test_enormous_texts_are_decided() -> None:
    rng = random.Random(3)
    body = " ".join(f"w{rng.randrange(30_000)}" for _ in range(300_000))  # ~2M characters
    decisions = run(
        article("a", body),
        article("b", "An extra opening line here. " + body, minutes=1),
        article("c", body + " a change past the first million characters", minutes=2),
    )
    assert decisions[0] == Decision("unique", "a")
    assert decisions[1].kind == "near"  # judged on its first 10k words
    assert decisions[2].kind == "exact"  # judged on its first 1M characters


# --- redelivery and same URL -------------------------------------------------------------


def test_redelivery_repeats_the_decision_and_writes_nothing() -> None:
    deduper = InMemoryDeduper()
    _, second = run(article("a", text(BRIDGE)), article("b", text(BRIDGE[:7])), deduper=deduper)
    before = copy.deepcopy(deduper.records)
    again = deduper.process(article("b", text(BRIDGE[:7]), minutes=90))
    assert again == second
    assert deduper.records == before


def test_same_url_from_another_source_is_an_exact_copy_of_itself() -> None:
    decisions = run(
        article("a", text(BRIDGE)),
        article("a", text(BRIDGE), minutes=5, source="other-feed"),
        article("a", text(BRIDGE), minutes=6, source="other-feed"),
        article("a", text(BRIDGE), minutes=7),
    )
    assert decisions[1] == Decision("exact", "a", "a", 1.0)
    assert decisions[2] == decisions[1]
    assert decisions[3] == Decision("unique", "a")


# --- state ----------------------------------------------------------------------------------


def test_records_are_json_and_survive_a_round_trip() -> None:
    """A Faust table keeps its changelog as JSON: decisions must not change."""
    stream = [
        article("a", text(BRIDGE)),
        article("b", text(ORCHESTRA), minutes=1),
        article("c", text(BRIDGE[:3]), minutes=2),
        article("d", MARKETS_DAY_1, minutes=3),
        article("e", text(ORCHESTRA[:5]) + "\n\nAdvertisement", minutes=4),
        article("f", text(BRIDGE), minutes=5, source="s2"),
    ]
    plain = InMemoryDeduper()
    restored = InMemoryDeduper()
    for item in stream:
        expected = plain.process(item)
        assert restored.process(item) == expected
        restored.records = json.loads(json.dumps(restored.records))


def test_key_scheme() -> None:
    deduper = InMemoryDeduper()
    run(article("a", text(BRIDGE)), deduper=deduper)
    assert deduper.index is not None
    prefixes = {key.split(":", 1)[0] for key, _ in deduper.index.items()}
    assert prefixes == {"url", "text", "band", "lead", "line"}
    assert set(deduper.records) == {"a:a"}


def test_judge_does_not_depend_on_candidate_order() -> None:
    deduper = InMemoryDeduper()
    bodies = [text(BRIDGE), text(BRIDGE[:7]), text(BRIDGE[:6]) + "\n\nAdvertisement"]
    for i, body in enumerate(bodies):
        deduper.process(article(f"o{i}", body, minutes=i))
    fp = fingerprint(text(BRIDGE[:6]))
    candidates = [(f"o{i}", deduper.records[f"a:o{i}"]) for i in range(3)]
    now = T0.timestamp() + 600
    assert judge(fp, candidates, now) is not None
    assert judge(fp, candidates, now) == judge(fp, list(reversed(candidates)), now)


def test_judge_skips_missing_stale_and_foreign_records() -> None:
    deduper = InMemoryDeduper()
    deduper.process(article("o", text(BRIDGE)))
    record = deduper.records["a:o"]
    fp = fingerprint(text(BRIDGE[:6]))
    now = T0.timestamp()
    assert judge(fp, [("o", record)], now) is not None
    assert judge(fp, [("o", None)], now) is None
    assert judge(fp, [("o", record)], now + 31 * 86_400) is None
    assert judge(fp, [("o", {**record, "v": -1})], now) is None


def test_buckets_cap_skip_the_article_and_drop_stale_entries() -> None:
    config = DedupConfig(bucket_cap=2, window_s=100)
    index = KeyIndex(config)
    key = "band:0:00aa"

    def probe(article_id: str, s: int, ts: float) -> Any:
        return index.probe(Probe(article_id, s, ts, "src", (key,)))[key]

    assert probe("old", 0, 0.0) == []
    assert probe("x", 1, 950.0) == []  # "old" is out of the window
    assert probe("me", 2, 960.0) == ["x"]
    assert probe("y", 3, 990.0) == ["x", "me"]
    assert probe("me", 4, 1000.0) == ["x", "y"]  # not itself
    assert probe("new", 5, 1000.0) == ["me", "y"]  # the newest two, in order


# --- expiry ---------------------------------------------------------------------------------


def test_articles_older_than_the_window_are_not_matched() -> None:
    deduper = InMemoryDeduper(DedupConfig(window_s=3600))
    decisions = run(
        article("a", text(BRIDGE)),
        article("b", text(BRIDGE), minutes=61, source="s2"),
        deduper=deduper,
    )
    assert decisions[1] == Decision("unique", "b")


def test_memory_stays_bounded_by_the_window() -> None:
    deduper = InMemoryDeduper(DedupConfig(window_s=3600))

    def stream() -> Iterator[Article]:
        for i in range(60):
            body = text(ORCHESTRA if i % 2 else BRIDGE) + f"\n\nIssue number {i} of the paper."
            yield article(f"a{i}", body, minutes=i * 30)

    assert deduper.index is not None
    sizes = []
    for item in stream():
        deduper.process(item)
        sizes.append(len(deduper.records) + len(deduper.index))
    assert max(sizes[20:]) <= max(sizes[:8]) + 60  # a steady state, not growth
    assert deduper.expire(T0 + timedelta(days=10)) > 0
    assert len(deduper.records) == 0 and len(deduper.index) == 0


# --- compatibility with the messages -------------------------------------------------------


def test_article_from_clean_and_decision_to_unique_article() -> None:
    clean = CleanArticle(
        id="abc",
        source_id="feed-1",
        url="https://example.com/a",
        canonical_url="https://example.com/a",
        fetched_at=T0,
        title="Bridge to close",
        text=text(BRIDGE),
    )
    view = Article.from_clean(clean)
    assert (view.id, view.source, view.seen_at) == ("abc", "feed-1", T0)
    decision = InMemoryDeduper().process(view)
    message = UniqueArticle(
        kind=decision.kind,
        article=clean,
        story_id=decision.story_id,
        duplicate_of=decision.duplicate_of,
        similarity=decision.similarity,
    )
    assert message.story_id == "abc"
