"""Fingerprints: exact keys, near-duplicate sketches, bad input."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from services.dedup.fingerprint import (
    BANDS,
    CHROME_MAX_UNITS,
    MAX_UNITS,
    MIN_NEAR_UNITS,
    SKETCH_SIZE,
    exact_key,
    fact_conflicts,
    fingerprint,
    overlap,
    set_overlap,
)
from services.dedup.fingerprint import (
    resemblance as sketch_resemblance,
)
from tests.unit.dedup.texts import (
    BRIDGE,
    BRIDGE_FOLLOW_UP,
    JA_LIBRARY,
    MARKETS_DAY_1,
    MARKETS_DAY_2,
    ORCHESTRA,
    TH_RAIN,
    ZH_AGENCY_PREFIX,
    ZH_METRO,
    ZH_RAIN,
    text,
)

REPO = Path(__file__).resolve().parents[3]


def resemblance(a: str, b: str) -> float:
    return overlap(fingerprint(a).sketch, fingerprint(b).sketch).resemblance


def containment(a: str, b: str) -> float:
    return overlap(fingerprint(a).sketch, fingerprint(b).sketch).containment


# --- exact keys -------------------------------------------------------------------


def test_exact_key_ignores_case_spacing_and_paragraphing() -> None:
    original = text(BRIDGE)
    reflowed = "  " + " ".join(BRIDGE).upper().replace(". ", ".   \n ") + "\n"
    assert exact_key(original) == exact_key(reflowed)


def test_exact_key_changes_with_one_word() -> None:
    edited = text(BRIDGE).replace("deep cracks", "small cracks")
    assert exact_key(text(BRIDGE)) != exact_key(edited)


@pytest.mark.parametrize("blank", ["", "   ", "\n\n\t \u00a0\n"])
def test_exact_key_of_no_text_and_no_title_is_none(blank: str) -> None:
    assert exact_key(blank) is None
    assert fingerprint(blank).exact_key is None


def test_short_texts_are_keyed_with_their_title() -> None:
    stub = "Watch the video above for the full report."
    assert exact_key(stub, "Storm hits coast") != exact_key(stub, "Council closes bridge")
    assert exact_key(stub, "Storm hits coast") == exact_key(stub, "STORM HITS COAST")


def test_long_texts_are_keyed_without_their_title() -> None:
    assert exact_key(text(BRIDGE), "One headline") == exact_key(text(BRIDGE), "Another")


# --- eligibility and bad input ------------------------------------------------------


@pytest.mark.parametrize("words", [0, 1, MIN_NEAR_UNITS - 1])
def test_short_texts_are_for_exact_matching_only(words: int) -> None:
    fp = fingerprint(" ".join(f"word{i}" for i in range(words)))
    assert not fp.near_eligible
    assert fp.bands == ()
    assert fp.units == words


def test_texts_of_min_length_are_near_eligible() -> None:
    fp = fingerprint(" ".join(f"word{i}" for i in range(MIN_NEAR_UNITS)))
    assert fp.near_eligible
    full = [key for key in fp.bands if key.startswith("band:")]
    anchors = [key for key in fp.bands if key.startswith("lead:")]
    assert len(set(full)) == len(full) == BANDS
    assert 1 <= len(set(anchors)) == len(anchors) <= MIN_NEAR_UNITS


def test_enormous_text_is_bounded_in_units_and_time() -> None:
    rng = random.Random(1)
    words = [f"w{rng.randrange(50_000)}" for _ in range(400_000)]  # ~2.8M characters
    started = time.perf_counter()
    fp = fingerprint(" ".join(words))
    elapsed = time.perf_counter() - started
    assert fp.units == MAX_UNITS
    assert len(fp.sketch.hashes) == SKETCH_SIZE
    assert elapsed < 2.0


def test_one_enormous_word_does_not_crash() -> None:
    fp = fingerprint("x" * 3_000_000)
    assert fp.units == 1
    assert not fp.near_eligible
    assert fp.exact_key is not None


@pytest.mark.parametrize(
    "odd",
    [
        "\x00\x01\x02 control \ud7ff characters \ufffd",
        "🙂" * 500,
        "١٢٣ ٤٥٦ arabic digits",
        "a\u00adb\u200bc soft\u00adhyphen",
        "\n" * 10_000,
        "- * - * -" * 1000,
    ],
)
def test_unusual_text_gives_a_fingerprint(odd: str) -> None:
    fp = fingerprint(odd, title="t")
    assert fp.units >= 0
    assert len(fp.sketch.hashes) == len(fp.sketch.segments)


def test_soft_hyphens_do_not_split_words() -> None:
    plain = text(ORCHESTRA)
    hyphenated = plain.replace("orchestra", "orches\u00adtra").replace(
        "musicians", "musi\u00adcians"
    )
    assert resemblance(plain, hyphenated) == 1.0


# --- scripts without spaces ---------------------------------------------------------


@pytest.mark.parametrize("sample", [ZH_METRO, JA_LIBRARY, TH_RAIN])
def test_text_without_spaces_is_cut_into_characters(sample: str) -> None:
    fp = fingerprint(sample)
    assert fp.near_eligible
    assert fp.units > len(sample) / 2


def test_chinese_copy_matches_and_other_chinese_story_does_not() -> None:
    sentences = ZH_METRO.split("。")
    copy = ZH_AGENCY_PREFIX + "。".join(sentences[:3] + sentences[4:])  # prefix, one sentence cut
    assert resemblance(ZH_METRO, copy) >= 0.7
    assert resemblance(ZH_METRO, ZH_RAIN) < 0.1


# --- numbers ------------------------------------------------------------------------


def test_numbers_are_kept_as_tokens() -> None:
    assert resemblance(MARKETS_DAY_1, MARKETS_DAY_2) < 0.9
    assert resemblance(MARKETS_DAY_1, MARKETS_DAY_1) == 1.0


def test_templated_stories_conflict_on_their_figures() -> None:
    shared, conflicts = fact_conflicts(
        fingerprint(MARKETS_DAY_1).facts, fingerprint(MARKETS_DAY_2).facts
    )
    assert shared >= 6
    assert conflicts == shared


def test_a_copy_adding_and_dropping_figures_does_not_conflict() -> None:
    copy = text(BRIDGE[:4]) + "\n\nCall our newsroom on 555 0142. Copyright 2024."
    shared, conflicts = fact_conflicts(fingerprint(text(BRIDGE)).facts, fingerprint(copy).facts)
    assert shared >= 2
    assert conflicts == 0


# --- resemblance and containment ----------------------------------------------------


def test_identical_texts_resemble_fully() -> None:
    assert resemblance(text(BRIDGE), text(BRIDGE)) == 1.0


def test_unrelated_texts_barely_resemble() -> None:
    assert resemblance(text(BRIDGE), text(ORCHESTRA)) < 0.05


def test_edited_copy_with_boilerplate_resembles() -> None:
    copy = [
        "Advertisement",
        "MARLOW (AP) — " + BRIDGE[0].replace("voted on Tuesday", "voted this week"),
        *BRIDGE[1:6],
        "Copyright 2024 The Associated Press. All rights reserved.",
    ]
    assert resemblance(text(BRIDGE), text(copy)) >= 0.6


def test_teaser_with_site_lines_is_contained() -> None:
    teaser = [
        "Sign up for our morning newsletter.",
        *BRIDGE[:2],
        "Read more at the source.",
        "Follow us on social media for updates.",
    ]
    assert containment(text(teaser), text(BRIDGE)) >= 0.9
    assert containment(text(BRIDGE), text(teaser)) >= 0.9  # symmetric: smaller in larger


def test_follow_up_reusing_background_is_not_contained() -> None:
    assert containment(text(BRIDGE_FOLLOW_UP), text(BRIDGE)) < 0.6
    follow_up, original = fingerprint(text(BRIDGE_FOLLOW_UP)), fingerprint(text(BRIDGE))
    assert set_overlap(follow_up.lead, original.lead) < 0.2


def test_long_foreign_paragraph_counts_against_containment() -> None:
    mixed = text([*BRIDGE[:2], ORCHESTRA[0], ORCHESTRA[2]])
    assert containment(mixed, text(BRIDGE)) < 0.7


def test_sampled_resemblance_is_close_to_exact() -> None:
    rng = random.Random(5)
    vocabulary = [f"t{i}" for i in range(200_000)]
    words = rng.sample(vocabulary, 4000)
    a, b = words[:2000], words[:1000] + words[2000:3000]
    # 3-shingles of distinct words: 998 shared out of 1998 each.
    exact = 998 / (1998 + 1998 - 998)
    estimate = resemblance(" ".join(a), " ".join(b))
    assert len(fingerprint(" ".join(a)).sketch.hashes) == SKETCH_SIZE  # really sampled
    assert estimate == pytest.approx(exact, abs=0.05)


# --- site chrome ------------------------------------------------------------------

BIO = (
    "Dana Whitlow is a senior reporter who covers transport, planning and local government "
    "for the paper. She previously worked for two regional newspapers and a radio station."
)
PARTNER = (
    "This article was first published by our partner newsroom and is republished here "
    "under a content sharing agreement. Some details may have changed since then."
)


def test_lines_hash_each_paragraph_by_its_units() -> None:
    fp = fingerprint(text([BRIDGE[0], "ADVERTISEMENT", BIO]))
    again = fingerprint(text([BRIDGE[1], "Advertisement.", BIO.upper()]))
    assert len(fp.lines) == len(fp.sketch.short) == 3
    assert fp.lines[1] == again.lines[1] and fp.lines[2] == again.lines[2]
    assert fp.lines[0] != again.lines[0] and 0 not in fp.lines.tolist()
    long_paragraph = " ".join(f"w{i}" for i in range(CHROME_MAX_UNITS + 1))
    assert fingerprint(text([BRIDGE[0], long_paragraph])).lines[1] == 0  # content, untracked
    assert len(fingerprint("Too short to compare.").lines) == 0


def test_lead_shingles_know_their_paragraph() -> None:
    fp = fingerprint(text(["Advertisement", "Listen to this article now, it is free.", *BRIDGE]))
    assert len(fp.lead_segments) == len(fp.lead)
    # "Advertisement" is not prose; the listen line (8 units, a sentence) is.
    assert set(fp.lead_segments.tolist()) == {1, 2}
    only_bridge = fingerprint(text(BRIDGE)).lead
    from_bridge = fp.lead[fp.lead_segments == 2]
    assert set(from_bridge.tolist()) <= set(only_bridge.tolist())


def test_chrome_is_left_out_of_containment_in_either_direction() -> None:
    original = fingerprint(text(BRIDGE[:3])).sketch
    teaser_fp = fingerprint(text([*BRIDGE[:2], BIO, PARTNER]))
    teaser = teaser_fp.sketch
    assert teaser.size > original.size  # the site lines make the teaser the larger
    chrome = np.array([False, False, True, True])
    assert overlap(teaser, original).containment < 0.8
    assert overlap(teaser, original, a_chrome=chrome).containment >= 0.95
    assert overlap(original, teaser, b_chrome=chrome).containment >= 0.95
    assert overlap(teaser, original, a_chrome=chrome).shared >= 60


def test_chrome_is_left_out_of_resemblance() -> None:
    a = fingerprint(text([BRIDGE[0], BIO, PARTNER])).sketch
    b = fingerprint(text([ORCHESTRA[0], BIO, PARTNER])).sketch
    chrome = np.array([False, True, True])
    assert sketch_resemblance(a, b) >= 0.4  # two stories made alike by one site
    assert sketch_resemblance(a, b, a_chrome=chrome, b_chrome=chrome) < 0.05
    # One text's flags take out what the two share.
    assert sketch_resemblance(a, b, a_chrome=chrome) < 0.05
    assert sketch_resemblance(a, b, b_chrome=chrome) < 0.05


# --- bands --------------------------------------------------------------------------


def test_copies_share_bands_and_unrelated_texts_do_not() -> None:
    original = fingerprint(text(BRIDGE))
    copy = fingerprint(text(BRIDGE[:7]).replace("Tuesday", "Wednesday"))
    other = fingerprint(text(ORCHESTRA))
    assert len(set(original.bands) & set(copy.bands)) >= 3
    assert not set(original.bands) & set(other.bands)


def test_lead_skips_lines_that_are_not_prose() -> None:
    plain = fingerprint(text(BRIDGE))
    for extra in (
        "Council shuts Kessel Bridge to cars after engineers find cracks",  # a headline
        "By Hannah Reyes and Tomas Lindqvist, Marlow Gazette staff writers",  # a byline
        "Advertisement",
    ):
        assert np.array_equal(fingerprint(text([extra, *BRIDGE])).lead, plain.lead)


def test_lead_keeps_a_long_paragraph_without_final_stop() -> None:
    unterminated = BRIDGE[0].rstrip(".")
    fp = fingerprint(text([unterminated, *BRIDGE[1:]]))
    assert set_overlap(fp.lead, fingerprint(text(BRIDGE)).lead) > 0.9


def test_teaser_shares_an_anchor_whatever_precedes_it() -> None:
    original = fingerprint(text(BRIDGE))
    anchors = {b for b in original.bands if b.startswith("lead:")}
    for teaser in (
        text(BRIDGE[:1]),
        text(["Council shuts Kessel Bridge to cars after cracks found", BRIDGE[0]]),
        "MARLOW, May 7 (Reuters) - " + BRIDGE[0],
    ):
        assert set(fingerprint(teaser).bands) & anchors


def test_fingerprints_do_not_depend_on_the_process() -> None:
    """Stored fingerprints are compared across workers: no per-process hashing."""
    script = (
        "from services.dedup.fingerprint import fingerprint\n"
        "from tests.unit.dedup.texts import BRIDGE, text\n"
        "fp = fingerprint(text(BRIDGE))\n"
        "print(fp.exact_key, *fp.bands, *fp.sketch.hashes[:20].tolist(), *fp.facts.tolist())\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    fp = fingerprint(text(BRIDGE))
    here = " ".join(
        map(str, [fp.exact_key, *fp.bands, *fp.sketch.hashes[:20].tolist(), *fp.facts.tolist()])
    )
    assert outputs == {here + "\n"}
