"""The text-dump fixture suite: loading cases and running one, for tests and the benchmark.

Each case is ``fixtures/dumps/NN-name.txt`` (a page as a scraper saw it) and
``NN-name.expected.json``: ``{"input": {"fetched_at", "feed_title"?}, "expected":
{field: value}}``. A case passes when every expected field of the cleaned
article equals the expected value exactly (datetimes as ISO 8601 strings).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from services.cleaner.extract import clean
from shared.exceptions import PoisonMessage
from shared.models import RawArticle

__all__ = ["DUMPS", "DumpCase", "load_cases", "run_case"]

DUMPS = Path(__file__).parent / "fixtures" / "dumps"


@dataclass(frozen=True)
class DumpCase:
    """One fixture: the dump, the fetch context and the expected fields."""

    name: str
    dump: str
    fetched_at: datetime
    feed_title: str | None
    expected: dict[str, Any]


def load_cases(folder: Path = DUMPS) -> list[DumpCase]:
    """Every fixture in ``folder``, in name order."""
    cases = []
    for dump in sorted(folder.glob("*.txt")):
        spec = json.loads(dump.with_suffix(".expected.json").read_text(encoding="utf-8"))
        cases.append(
            DumpCase(
                name=dump.stem,
                dump=dump.read_text(encoding="utf-8"),
                fetched_at=datetime.fromisoformat(spec["input"]["fetched_at"]),
                feed_title=spec["input"].get("feed_title"),
                expected=spec["expected"],
            )
        )
    return cases


def run_case(case: DumpCase) -> dict[str, Any]:
    """The cleaned article's values for the fields the case expects.

    A dead-lettered dump yields ``{"dead_letter": reason}``.
    """
    raw = RawArticle(
        id=case.name, source_id="fixtures", source_kind="fixtures",
        url=f"https://example.org/{case.name}", final_url=f"https://example.org/{case.name}",
        fetched_at=case.fetched_at, body_kind="text", content_type="text/plain",
        body=case.dump, feed_title=case.feed_title,
    )  # fmt: skip
    try:
        article = clean(raw).model_dump(mode="json")
    except PoisonMessage as exc:
        return {"dead_letter": exc.reason}
    return {key: article.get(key) for key in case.expected}
