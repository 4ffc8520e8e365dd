"""Small hand-written article pages (our own text) for the extraction tests."""

# Typographic quotes and apostrophes are the point of this test data.
# ruff: noqa: RUF001

from __future__ import annotations

from datetime import UTC, datetime

from shared.models import RawArticle

FETCHED_AT = datetime(2024, 5, 15, 9, 0, tzinfo=UTC)

PARAGRAPHS = [
    "Residents of Port Ellery voted on Monday to keep the small car ferry that has crossed "
    "the estuary since 1961, rejecting a plan to replace it with a toll bridge.",
    "Turnout in the advisory ballot was 71 per cent, the highest the council has recorded, "
    "and 64 per cent of those who voted backed the ferry.",
    "“We were told the bridge would be cheaper in the long run,” said Ines Barlow, who runs "
    "the bakery by the slipway. “Nobody here believed it.”",
    "The council will now ask the regional transport board for money to replace the ferry’s "
    "engines, which are more than thirty years old and often break down in winter.",
    "Opponents of the ferry said the vote ignored the cost of repairs and the needs of "
    "commuters who drive to the hospital on the far bank every day.",
]

_BODY = "\n".join(f"<p>{p}</p>" for p in PARAGRAPHS)

# Everything a well-made news page declares: JSON-LD, OpenGraph, meta tags.
FULL_PAGE = f"""<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>Harbour town votes to keep its ferry | The Coastal Courier</title>
<link rel="canonical" href="/news/2024/05/14/harbour-ferry-vote">
<meta property="og:site_name" content="The Coastal Courier">
<meta property="og:title" content="Harbour town votes to keep its ferry">
<meta property="og:description" content="Residents of Port Ellery chose the ferry over a bridge.">
<meta property="og:image" content="/img/ferry.jpg">
<meta property="article:section" content="Local">
<meta property="article:tag" content="transport">
<meta property="article:tag" content="Port Ellery">
<script type="application/ld+json">
{{"@context": "https://schema.org", "@graph": [
  {{"@type": "WebSite", "name": "Courier website"}},
  {{"@type": "NewsArticle", "headline": "Harbour town votes to keep its ferry",
    "datePublished": "2024-05-14T08:30:00+01:00", "dateModified": "2024-05-14T12:00:00+01:00",
    "author": [{{"@type": "Person", "name": "Mara Quill"}},
               {{"@type": "Person", "name": "Tobias Fenn"}}],
    "publisher": {{"@type": "Organization", "name": "Coastal Courier Ltd"}}}}]}}
</script>
</head>
<body>
<header><a href="/">The Coastal Courier</a>
<nav><a href="/news">News</a> <a href="/sport">Sport</a>
<a href="/weather">Weather</a></nav></header>
<main><article>
<h1>Harbour town votes to keep its ferry</h1>
<p class="byline">By Mara Quill and Tobias Fenn</p>
{_BODY}
</article>
<aside><h3>Related stories</h3><ul>
<li><a href="/a">Bridge plan shelved after survey finds soft ground under the river</a></li>
<li><a href="/b">Ferry breaks down twice in one week as engines fail again</a></li></ul></aside>
</main>
<footer><p>© 2024 The Coastal Courier. All rights reserved.</p>
<a href="/privacy">Privacy</a></footer>
</body></html>"""

# Only OpenGraph and plain meta tags; the date is in a <time> element.
META_ONLY_PAGE = f"""<html><head>
<title>Harbour town votes to keep its ferry - Estuary Weekly</title>
<meta property="og:url" content="https://weekly.example/ferry-vote">
<meta property="og:site_name" content="Estuary Weekly">
<meta name="author" content="By Mara Quill">
<meta name="description" content="The ferry stays.">
<meta name="keywords" content="ferry, vote, Port Ellery, ferry">
<meta name="twitter:image" content="https://cdn.weekly.example/ferry.png">
</head><body>
<div class="story"><h1>Harbour town votes to keep its ferry</h1>
<time datetime="2024-05-14T07:30:00Z">14 May 2024</time>
{_BODY}</div></body></html>"""

# No metadata at all: title from <title>, date from the URL, canonical = final URL.
BARE_PAGE = f"""<html><head><title>Harbour town votes to keep its ferry | Estuary Weekly</title>
</head><body><div id="content">{_BODY}</div></body></html>"""

BARE_URL = "https://weekly.example/2024/05/14/harbour-ferry-vote.html"


def raw_page(
    body: str,
    *,
    url: str = "https://courier.example/news/2024/05/14/harbour-ferry-vote?ref=rss",
    content_type: str = "text/html; charset=utf-8",
    body_kind: str = "html",
    feed_title: str | None = None,
) -> RawArticle:
    """A fetched page as the fetcher would emit it."""
    return RawArticle.model_validate(
        {
            "id": "a1", "source_id": "courier", "source_kind": "rss", "url": url,
            "final_url": url, "fetched_at": FETCHED_AT, "content_type": content_type,
            "body_kind": body_kind, "body": body, "feed_title": feed_title,
        }
    )  # fmt: skip
