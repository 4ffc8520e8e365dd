"""A source kind from another package, found by its entry point alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.fetcher.fetch import poll_source
from shared.http import HttpClient
from shared.models import FeedSource
from shared.sources import Source, UnknownSourceKind, available_kinds, load_source
from tests.unit.fetcher.site import Site, static
from tests.unit.fetcher.test_poll import PAGE, SETTINGS

# Holds the plugin package and its .dist-info: on sys.path, it is "installed".
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def test_an_unknown_kind_names_the_installed_ones() -> None:
    with pytest.raises(UnknownSourceKind, match=r"installed: .*rss"):
        load_source("no-such-kind")


async def test_a_third_party_kind_is_polled_with_no_change_to_the_fetcher(
    site: Site, http: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(PLUGINS))
    assert "linklist" in available_kinds()
    assert isinstance(load_source("linklist"), Source)

    site.route("/a", static(PAGE, headers={"Content-Type": "text/html"}))
    site.route("/b", static(PAGE, headers={"Content-Type": "text/html"}))
    url = site.route("/links.txt", static(f"# today\n{site.url('/a')}\n\n{site.url('/b')}\n"))
    source = FeedSource(id="ll", kind="linklist", url=url)
    outcome = await poll_source(source, None, http, SETTINGS)
    assert [a.url for a in outcome.articles] == [site.url("/a"), site.url("/b")]
    assert all(a.source_kind == "linklist" for a in outcome.articles)
