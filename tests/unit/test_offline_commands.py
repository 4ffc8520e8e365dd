"""``newsflow extract`` and ``newsflow dedup`` run the services' own code on JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import CliRunner

from newsflow.cli import main
from services.cleaner.extract import clean
from shared.models import RawArticle

PARAS = [
    "The river authority opened the new flood gates on Friday after three years of work "
    "on the embankment north of the old mill, officials said.",
    "Engineers said the gates can hold back a surge twice as high as the one that flooded "
    "the market square last winter, when water stood a metre deep.",
    "Residents who had campaigned for the scheme gathered on the bridge to watch the first "
    "test, and the mayor thanked the crews who worked through the summer.",
]


def _page(n: int) -> str:
    body = "".join(f"<p>{p} (Report {n}.)</p>" for p in PARAS)
    return (
        f"<html><head><title>Gates {n}</title></head><body><nav>Home News Sport</nav>"
        f"<article><h1>Gates {n}</h1>{body}</article><footer>© Site</footer></body></html>"
    )


def _run(command: str, lines: list[str], *args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, [command, *args], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_extract_keeps_input_order_and_equals_the_service_function() -> None:
    items = [{"id": f"p{n}", "url": f"http://site.test/{n}", "html": _page(n)} for n in range(12)]
    lines = [json.dumps(i) for i in items]
    lines.insert(5, "{broken")
    out = _run("extract", lines, "--processes", "2")
    assert [o["id"] for o in out] == [
        "p0",
        "p1",
        "p2",
        "p3",
        "p4",
        None,
        *[f"p{n}" for n in range(5, 12)],
    ]
    assert out[5]["error"] == "invalid-input"
    raw = RawArticle(
        id="p3",
        source_id="offline",
        source_kind="offline",
        url="http://site.test/3",
        final_url="http://site.test/3",
        fetched_at=datetime.now(UTC),
        body=_page(3),
    )
    service = clean(raw)
    assert out[3]["title"] == service.title and out[3]["text"] == service.text
    assert out[3]["language"] == service.language == "en"
    assert "Home News Sport" not in str(out[3]["text"])


def test_extract_reports_pages_that_are_not_articles() -> None:
    out = _run("extract", [json.dumps({"id": "e", "url": "http://x.test/", "html": "   "})])
    assert out == [{"id": "e", "error": "empty-page", "detail": out[0]["detail"]}]


def test_dedup_outputs_one_verdict_per_line_in_order() -> None:
    text = "\n\n".join(PARAS)
    items = [
        {"id": "a1", "url": "http://wire.test/a1", "title": "Gates", "text": text},
        {
            "id": "b1",
            "url": "http://other.test/b1",
            "title": "Oven",
            "text": "A bakery cooperative bought a second wood-fired oven for its five members, "
            "who now bake through the night in four-hour shifts to keep prices low.",
        },
        {"id": "a2", "url": "http://courier.test/a2", "title": "Gates", "text": text.upper()},
        {
            "id": "a3",
            "url": "http://ledger.test/a3",
            "title": "Gates open",
            "text": "HARBOUR CITY (Wire) — " + "\n\n".join(PARAS[:2]) + "\n\nShare this story.",
        },
    ]
    out = _run("dedup", [json.dumps(i) for i in items])
    assert [(o["id"], o["kind"], o["story_id"], o["duplicate_of"]) for o in out] == [
        ("a1", "unique", "a1", None),
        ("b1", "unique", "b1", None),
        ("a2", "exact", "a1", "a1"),
        ("a3", "near", "a1", "a1"),
    ]
    assert 0.5 <= float(out[3]["similarity"]) < 1.0  # type: ignore[arg-type]
