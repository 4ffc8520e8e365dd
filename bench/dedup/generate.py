"""Build the dedup evaluation stream: stories, syndicated copies, hard negatives.

Every document carries its ground truth: the story it belongs to, whether it
is a story's first article (``base``), a syndicated copy (``variant``, with
the changes applied) or the first article of a story made to look like another
one (``hard``: same event by another outlet, a follow-up reusing background
paragraphs, a templated story with other figures). Copies arrive within two
days of their original, and about one in seven arrives before it.

``python -m bench.dedup.generate --out stream.jsonl`` writes the stream for
inspection (keep it out of the repository: it quotes the benchmark's pages).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.dedup.corpus import TEMPLATES, TOPICS, compose, make_event, real_bodies, templated
from shared.models import CleanArticle

__all__ = ["CHANGES", "Doc", "generate"]

START = datetime(2024, 5, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Doc:
    """One article of the stream, with its ground truth."""

    id: str
    story: str
    role: str  # "base" | "variant" | "hard"
    change: str  # variant: "+"-joined changes; hard: its kind; base: ""
    original: str | None  # variant: the id of its story's base
    title: str
    text: str
    source: str
    url: str
    seen_at: datetime

    def clean(self, **extra: Any) -> CleanArticle:
        """This document as the ``news.clean`` message dedup reads."""
        return CleanArticle(
            id=self.id,
            source_id=self.source,
            url=self.url,
            canonical_url=self.url,
            fetched_at=self.seen_at,
            title=self.title,
            text=self.text,
            **extra,
        )


# --- syndication changes -----------------------------------------------------------

BOILERPLATE_TOP = [
    "Advertisement",
    "Sign up for our morning newsletter to get the day's top stories in your inbox.",
    "Share this article",
    "Listen to this article",
    "Follow us on Facebook, Twitter and Instagram for the latest updates.",
    "This article is more than 2 years old",
    "Our journalism depends on readers like you. Subscribe today for full access.",
]
BOILERPLATE_BOTTOM = [
    "Copyright 2024 The Associated Press. All rights reserved. This material may not be "
    "published, broadcast, rewritten or redistributed.",
    "(Reporting by {a}; Editing by {b})",
    "Our Standards: The Thomson Reuters Trust Principles.",
    "Have a story tip? Email our newsroom at tips@example.com or call 555-0142.",
    "Read more: {headline}",
    "This story was originally published by a partner site and is republished here with "
    "permission.",
    "Related coverage: {headline}",
    "Download our app for breaking news alerts on your phone.",
    "Comments are closed for this article.",
    "{a} is a senior correspondent who covers politics, energy and climate for the paper. "
    "Before joining, {a} reported for regional newspapers and a national broadcaster for "
    "more than a decade.",
]
BOILERPLATE_MIDDLE = [
    "ADVERTISEMENT",
    "Story continues below advertisement",
    "READ MORE: {headline}",
    "Continue reading the main story",
]
DATELINES = [
    "{CITY} (AP) — ",
    "{CITY}, May {d} (Reuters) - ",
    "{CITY} (AFP) - ",
    "{CITY} — ",
    "By {a}, {CITY} — ",
]
TITLE_PREFIXES = ["UPDATE 1-", "UPDATE 2-", "EXCLUSIVE-", "Breaking: ", "WATCH: ", "LIVE: "]
TEASER_ENDINGS = ["Read more at the source.", "Continue reading…", "…", "Read the full story."]
SHARE_GLUE = ["ShareTweetEmail", "Share on FacebookShare on Twitter", "FacebookTwitterLinkedIn"]

# Edits a sub-editor makes: synonyms, contractions, style. Applied per sentence.
SWAPS = {
    "said": ["told reporters", "stated", "added"],
    "about": ["around", "roughly", "some"],
    "more than": ["over", "upwards of"],
    "percent": ["per cent", "%"],
    "however": ["but", "though"],
    "announced": ["unveiled", "revealed"],
    "people": ["residents", "individuals"],
    "will": ["is set to", "is expected to"],
    "also": ["as well", "additionally"],
    "big": ["large", "major"],
    "because": ["as", "since"],
    "the company": ["the firm", "the group"],
    "on Tuesday": ["this week", "on Tuesday morning"],
    "government": ["administration", "authorities"],
}


def _headline(rng: random.Random) -> str:
    words = ["Markets", "Storm", "Council", "Minister", "Court", "Fans", "Prices", "Talks"]
    verbs = ["face", "brace for", "react to", "weigh", "reject", "welcome"]
    tails = ["new rules", "a busy week", "the latest figures", "fresh delays", "the verdict"]
    return f"{rng.choice(words)} {rng.choice(verbs)} {rng.choice(tails)}"


_SUBJECTS = [
    "City council",
    "Regional officials",
    "Rail operator",
    "Central bank",
    "Local residents",
    "Health authorities",
    "Tech company",
    "Prosecutors",
]
_ACTIONS = [
    "warns of",
    "prepares for",
    "rejects calls for",
    "announces plans for",
    "faces questions over",
    "promises review of",
    "delays decision on",
]
_OBJECTS = [
    "new spending cuts",
    "weekend strike action",
    "rising energy bills",
    "flood defence repairs",
    "a disputed housing project",
    "changes to school hours",
]
_TAILS = [
    "after heated debate",
    "as pressure mounts",
    "despite fierce opposition",
    "ahead of key vote",
    "amid growing uncertainty",
]


def _title(rng: random.Random) -> str:
    """A headline of 7-12 words, unrelated to the text's wording."""
    return " ".join(
        [rng.choice(_SUBJECTS), rng.choice(_ACTIONS), rng.choice(_OBJECTS), rng.choice(_TAILS)]
    )


def _fill(rng: random.Random, line: str) -> str:
    return line.format(
        a=f"{rng.choice(['Anna', 'Tom', 'Raj', 'Lena'])} {rng.choice(['Ortiz', 'Berg', 'Lowe'])}",
        b=f"{rng.choice(['Kim', 'Sam', 'Ola'])} {rng.choice(['Reyes', 'Holt', 'Frost'])}",
        headline=_headline(rng),
        CITY=rng.choice(["LONDON", "NEW YORK", "PARIS", "NAIROBI", "TOKYO", "BERLIN"]),
        d=rng.randint(1, 28),
    )


Paragraphs = list[str]
Change = Callable[[random.Random, Paragraphs, str], tuple[Paragraphs, str]]


def boilerplate(rng: random.Random, paras: Paragraphs, title: str) -> tuple[Paragraphs, str]:
    """Site chrome added at the top, bottom and sometimes in the middle."""
    out = list(paras)
    for _ in range(rng.randint(0, 2)):
        out.insert(0, _fill(rng, rng.choice(BOILERPLATE_TOP)))
    for _ in range(rng.randint(1, 3)):
        out.append(_fill(rng, rng.choice(BOILERPLATE_BOTTOM)))
    if len(out) > 4 and rng.random() < 0.5:
        out.insert(rng.randint(2, len(out) - 2), _fill(rng, rng.choice(BOILERPLATE_MIDDLE)))
    return out, title


def dateline(rng: random.Random, paras: Paragraphs, title: str) -> tuple[Paragraphs, str]:
    """A dateline glued to the first paragraph, a prefix on the headline."""
    out = list(paras)
    out[0] = _fill(rng, rng.choice(DATELINES)) + out[0]
    if rng.random() < 0.7:
        title = rng.choice(TITLE_PREFIXES) + title
    return out, title


def dropped(rng: random.Random, paras: Paragraphs, title: str) -> tuple[Paragraphs, str]:
    """One to three paragraphs after the lead cut for length (a quarter at most),
    more often from the end."""
    if len(paras) < 4:
        return list(paras), title
    count = rng.randint(1, max(1, min(3, len(paras) // 4)))
    out = list(paras)
    for _ in range(count):
        index = len(out) - 1 if rng.random() < 0.5 else rng.randint(1, len(out) - 1)
        del out[index]
    return out, title


def edited(rng: random.Random, paras: Paragraphs, title: str) -> tuple[Paragraphs, str]:
    """Sub-editing: words swapped, dropped or added in 10-30% of sentences."""
    share = rng.uniform(0.1, 0.3)
    out = []
    for paragraph in paras:
        sentences = paragraph.split(". ")
        for i, sentence in enumerate(sentences):
            if rng.random() < share:
                sentences[i] = _edit_sentence(rng, sentence)
        out.append(". ".join(sentences))
    return out, title


def _edit_sentence(rng: random.Random, sentence: str) -> str:
    for phrase, options in rng.sample(list(SWAPS.items()), len(SWAPS)):
        if f" {phrase} " in sentence:
            return sentence.replace(f" {phrase} ", f" {rng.choice(options)} ", 1)
    words = sentence.split()
    if len(words) < 6:
        return sentence
    i = rng.randint(1, len(words) - 2)
    if rng.random() < 0.5:
        del words[i]
    else:
        words.insert(i, rng.choice(["also", "now", "reportedly", "still", "officially"]))
    return " ".join(words)


def truncated(rng: random.Random, paras: Paragraphs, title: str) -> tuple[Paragraphs, str]:
    """A teaser: the first one to three paragraphs, often with a link line."""
    keep = rng.randint(1, min(3, max(1, len(paras) - 1)))
    out = list(paras[:keep])
    if sum(len(p.split()) for p in out) < 25 and len(paras) > keep:
        out.append(paras[keep])  # teasers run to at least a sentence or two
    if rng.random() < 0.6:
        out.append(rng.choice(TEASER_ENDINGS))
    return out, title


def typography(rng: random.Random, paras: Paragraphs, title: str) -> tuple[Paragraphs, str]:
    """Straight quotes, spaced dashes, doubled spaces, no-break spaces."""
    table = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})
    out = [p.translate(table).replace(" — ", " - ").replace(". ", ".  ") for p in paras]
    out = [p.replace(" ", "\u00a0", 3) if rng.random() < 0.3 else p for p in out]
    return out, title.upper() if rng.random() < 0.2 else title


def share_glue(rng: random.Random, paras: Paragraphs, title: str) -> tuple[Paragraphs, str]:
    """Share-button text glued to the start of the text (an extraction slip)."""
    out = list(paras)
    out[0] = rng.choice(SHARE_GLUE) + out[0]
    return out, title


def resegmented(rng: random.Random, paras: Paragraphs, title: str) -> tuple[Paragraphs, str]:
    """Another extractor's paragraphing: blocks merged, or sentences split apart."""
    if rng.random() < 0.5:
        size = rng.randint(2, 4)
        return [" ".join(paras[i : i + size]) for i in range(0, len(paras), size)], title
    return [s for p in paras for s in p.replace(". ", ".\n").split("\n")], title


def headline_in_text(rng: random.Random, paras: Paragraphs, title: str) -> tuple[Paragraphs, str]:
    """The headline repeated as the text's first line (an extraction slip)."""
    return [title.upper() if rng.random() < 0.3 else title, *paras], title


def exact(rng: random.Random, paras: Paragraphs, title: str) -> tuple[Paragraphs, str]:
    """The same text under another URL (the headline may differ)."""
    return list(paras), (rng.choice(TITLE_PREFIXES) + title) if rng.random() < 0.3 else title


CHANGES: dict[str, Change] = {
    "exact": exact,
    "typography": typography,
    "boilerplate": boilerplate,
    "dateline": dateline,
    "dropped": dropped,
    "edited": edited,
    "truncated": truncated,
    "share_glue": share_glue,
    "resegmented": resegmented,
    "headline_in_text": headline_in_text,
}
# Combinations seen in syndication: edits and trims with site chrome, teasers
# on aggregators with their own chrome.
COMBINATIONS = [
    ("dateline", "boilerplate"),
    ("dropped", "boilerplate"),
    ("edited", "dropped"),
    ("edited", "boilerplate", "dateline"),
    ("truncated", "boilerplate"),
    ("truncated", "dateline"),
    ("dropped", "edited", "boilerplate"),
    ("share_glue", "boilerplate"),
    ("typography", "dropped"),
    ("resegmented", "truncated", "boilerplate"),
    ("headline_in_text", "truncated"),
    ("headline_in_text", "edited", "boilerplate"),
]
SINGLE_WEIGHTS = {
    "exact": 2,
    "typography": 1,
    "boilerplate": 3,
    "dateline": 2,
    "dropped": 2,
    "edited": 3,
    "truncated": 3,
    "share_glue": 1,
    "resegmented": 2,
    "headline_in_text": 1,
}


def _variant(rng: random.Random, paras: Paragraphs, title: str) -> tuple[Paragraphs, str, str]:
    if rng.random() < 0.4:
        names = rng.choice(COMBINATIONS)
    else:
        names = (rng.choices(list(SINGLE_WEIGHTS), weights=list(SINGLE_WEIGHTS.values()))[0],)
    for name in names:
        paras, title = CHANGES[name](rng, paras, title)
    return paras, title, "+".join(names)


# --- the stream ----------------------------------------------------------------------


@dataclass
class _Builder:
    rng: random.Random
    docs: list[Doc]
    counter: int = 0

    def add(
        self,
        *,
        story: str,
        role: str,
        change: str,
        original: str | None,
        paras: Paragraphs,
        title: str,
        at: datetime,
    ) -> Doc:
        self.counter += 1
        doc_id = f"d{self.counter:06d}"
        source = f"site{self.rng.randint(1, 400)}"
        doc = Doc(
            id=doc_id,
            story=story,
            role=role,
            change=change,
            original=original,
            title=title,
            text="\n\n".join(paras),
            source=source,
            url=f"https://{source}.example/{doc_id}",
            seen_at=at,
        )
        self.docs.append(doc)
        return doc

    def story(
        self,
        *,
        story: str,
        role: str,
        change: str,
        paras: Paragraphs,
        title: str,
        at: datetime,
        copies: int,
    ) -> None:
        """A story's first article and ``copies`` syndicated copies of it."""
        base = self.add(
            story=story, role=role, change=change, original=None, paras=paras, title=title, at=at
        )
        for _ in range(copies):
            v_paras, v_title, names = _variant(self.rng, paras, title)
            early = self.rng.random() < 0.15
            delay = timedelta(hours=self.rng.uniform(0.05, 6 if early else 48))
            self.add(
                story=story,
                role="variant",
                change=names,
                original=base.id,
                paras=v_paras,
                title=v_title,
                at=at - delay if early else at + delay,
            )


def generate(seed: int = 7, scale: float = 1.0, real: bool = True) -> list[Doc]:
    """The evaluation stream, in arrival order; ``scale`` multiplies its size."""
    rng = random.Random(seed)
    build = _Builder(rng, [])
    horizon = timedelta(days=10)

    def when() -> datetime:
        return START + timedelta(seconds=rng.uniform(0, horizon.total_seconds()))

    def copies() -> int:
        return rng.choice([0, 1, 1, 2, 2, 3, 4, 6])

    bodies = real_bodies() if real else []
    rng.shuffle(bodies)
    # A quarter of the real bodies never enter the stream: they are the new
    # text of follow-ups, which must not be copies of anything in the stream.
    fresh, bases = bodies[: len(bodies) // 4], bodies[len(bodies) // 4 :]
    unused = [p for body in fresh for p in body if len(p.split()) >= 8]

    def real_text(count: int) -> list[str]:
        taken = unused[:count]
        del unused[:count]
        return taken

    for i, paras in enumerate(bases):
        build.story(
            story=f"real{i}",
            role="base",
            change="",
            paras=paras,
            title=_title(rng),
            at=when(),
            copies=copies(),
        )
        _follow_up(build, rng, f"real{i}", paras, real_text, when())

    for e in range(int(120 * scale)):
        event = make_event(rng, rng.choice(list(TOPICS)))
        outlets = rng.randint(1, 4)
        start = when()
        for o in range(outlets):
            paras = compose(rng, event, quotes=rng.randint(0, 2))
            role, change = ("base", "") if o == 0 else ("hard", "same_event")
            build.story(
                story=f"ev{e}.{o}",
                role=role,
                change=change,
                paras=paras,
                title=_title(rng),
                at=start + timedelta(hours=rng.uniform(0, 8)),
                copies=copies(),
            )
            if o == 0:

                def synthetic_text(count: int, topic: str = event.topic) -> list[str]:
                    return compose(rng, make_event(rng, topic), quotes=0)[:count]

                _follow_up(build, rng, f"ev{e}", paras, synthetic_text, start + timedelta(days=1))

    for t, template in enumerate(TEMPLATES):
        for day in range(int(6 * scale)):
            role, change = ("base", "") if day == 0 else ("hard", "templated")
            build.story(
                story=f"tpl{t}.{day}",
                role=role,
                change=change,
                paras=templated(rng, template),
                title=f"Daily figures {t}",
                at=START + timedelta(days=day, hours=rng.uniform(6, 18)),
                copies=rng.choice([0, 1, 2]),
            )

    return sorted(build.docs, key=lambda d: (d.seen_at, d.id))


def _follow_up(
    build: _Builder,
    rng: random.Random,
    story: str,
    paras: Paragraphs,
    new_text: Callable[[int], list[str]],
    at: datetime,
) -> None:
    """Half the time, a later article on the story: a new lead and new paragraphs
    (``new_text``: never seen elsewhere) around one to three background
    paragraphs of the original."""
    if len(paras) < 5 or rng.random() < 0.5:
        return
    new = new_text(rng.randint(3, 6))
    if len(new) < 3:
        return
    start = rng.randint(len(paras) // 2, len(paras) - 1)
    background = paras[start : start + rng.randint(1, 3)]
    body = [new[0], *new[1:2], *background, *new[2:]]
    build.story(
        story=f"{story}.followup",
        role="hard",
        change="follow_up",
        paras=body,
        title=_title(rng),
        at=at + timedelta(hours=rng.uniform(12, 72)),
        copies=rng.choice([0, 0, 1]),
    )


def _iter_json(docs: list[Doc]) -> Iterator[str]:
    for doc in docs:
        row = asdict(doc)
        row["seen_at"] = doc.seen_at.isoformat()
        yield json.dumps(row, ensure_ascii=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    docs = generate(args.seed, args.scale)
    args.out.write_text("\n".join(_iter_json(docs)) + "\n", encoding="utf-8")
    print(f"{len(docs)} documents -> {args.out}")


if __name__ == "__main__":
    main()
