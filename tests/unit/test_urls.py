"""Canonical URLs and article ids."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.urls import article_id, canonical_url

ARTICLE = "https://example.com/news/2024/05/bridge-closes"


@pytest.mark.parametrize(
    "variant",
    [
        "HTTPS://EXAMPLE.COM/news/2024/05/bridge-closes",
        "https://example.com:443/news/2024/05/bridge-closes",
        "https://example.com/news/2024/05/bridge-closes#comments",
        "https://example.com/news/2024/05/bridge-closes/",
        "https://example.com//news/2024/./05/x/../bridge-closes",
        "https://www.example.com/news/2024/05/bridge-closes",
        "https://user:secret@example.com/news/2024/05/bridge-closes",
        " https://example.com/news/2024/05/bridge-closes\n",
        "https://example.com./news/2024/05/bridge-closes",
    ],
)
def test_spellings_of_one_address_meet(variant: str) -> None:
    assert canonical_url(variant) == ARTICLE


@pytest.mark.parametrize(
    "tracked",
    [
        "?utm_source=twitter&utm_medium=social&utm_campaign=x",
        "?UTM_Source=NewsLetter",
        "?fbclid=IwAR0abc",
        "?gclid=EAIaIQ",
        "?mc_cid=1a2b&mc_eid=3c4d",
        "?igshid=MzRlODBiNWFlZA==",
        "?ref_src=twsrc%5Etfw",
        "?CMP=share_btn_tw",
        "?at_medium=RSS&at_campaign=KARANGA",
        "?ns_mchannel=social&ns_source=twitter",
    ],
)
def test_tracking_parameters_are_dropped(tracked: str) -> None:
    assert canonical_url(ARTICLE + tracked) == ARTICLE


def test_other_parameters_are_kept_sorted_and_uniformly_escaped() -> None:
    assert canonical_url(ARTICLE + "?page=2&id=7&utm_source=x") == ARTICLE + "?id=7&page=2"
    assert canonical_url(ARTICLE + "?q=a+b") == canonical_url(ARTICLE + "?q=a%20b")
    assert canonical_url(ARTICLE + "?ref=homepage") == ARTICLE + "?ref=homepage"


@pytest.mark.parametrize(
    "amp",
    [
        "https://amp.example.com/news/2024/05/bridge-closes",
        "https://example.com/amp/news/2024/05/bridge-closes",
        "https://example.com/news/2024/05/bridge-closes/amp",
        "https://example.com/news/2024/05/bridge-closes/amp/",
        "https://example.com/news/2024/05/bridge-closes?amp",
        "https://example.com/news/2024/05/bridge-closes?amp=1",
        "https://example.com/news/2024/05/bridge-closes?outputType=amp",
        "https://example.com/news/2024/05/bridge-closes.amp",
        "https://example-com.cdn.ampproject.org/c/s/example.com/news/2024/05/bridge-closes",
        "https://www.google.com/amp/s/www.example.com/news/2024/05/bridge-closes/amp",
    ],
)
def test_amp_variants_meet_the_page(amp: str) -> None:
    assert canonical_url(amp) == ARTICLE


def test_amp_html_suffix_keeps_the_extension() -> None:
    assert (
        canonical_url("https://example.com/a/story.amp.html") == "https://example.com/a/story.html"
    )


@pytest.mark.parametrize("odd", ["/x/.amp/y", "/x/amp.amp", "/x/y.amp.amp", "/x/.AMP"])
def test_amp_only_segments_leave_no_empty_segment(odd: str) -> None:
    once = canonical_url("https://example.com" + odd)
    assert "//" not in once.split("://", 1)[1]
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    "mobile",
    [
        "https://m.example.com/news/2024/05/bridge-closes",
        "https://mobile.example.com/news/2024/05/bridge-closes",
        "http://m.example.com/news/2024/05/bridge-closes",
    ],
)
def test_mobile_hosts_meet_the_desktop_host(mobile: str) -> None:
    assert canonical_url(mobile).split("://")[1] == ARTICLE.split("://")[1]


def test_variant_labels_never_strip_a_registrable_name() -> None:
    assert canonical_url("https://m.co/x") == "https://m.co/x"
    assert canonical_url("https://amp.dev/x") == "https://amp.dev/x"
    assert canonical_url("https://m.bbc.co.uk/news") == "https://bbc.co.uk/news"


def test_default_ports_go_and_others_stay() -> None:
    assert canonical_url("http://example.com:80/a") == "http://example.com/a"
    assert canonical_url("http://example.com:8080/a") == "http://example.com:8080/a"
    assert canonical_url("https://example.com:80/a") == "https://example.com:80/a"


def test_escapes_and_international_hosts_are_normalised() -> None:
    assert canonical_url("https://example.com/%7euser/caf%c3%a9") == (
        "https://example.com/~user/caf%C3%A9"
    )
    assert canonical_url("https://example.com/café") == "https://example.com/caf%C3%A9"
    assert canonical_url("https://example.com/a%2Fb") == "https://example.com/a%2Fb"
    assert canonical_url("https://MÜNCHEN.de/x") == "https://xn--mnchen-3ya.de/x"


def test_ip_hosts_are_kept() -> None:
    assert canonical_url("http://[::1]:8080/x") == "http://[::1]:8080/x"
    assert canonical_url("http://192.168.0.1/x") == "http://192.168.0.1/x"


# --- declared canonical URLs -------------------------------------------------------------


def test_declared_canonical_wins_on_any_host() -> None:
    syndicated = "https://news.aggregator.example/story/123?utm_source=feed"
    declared = "https://www.example.com/news/2024/05/bridge-closes?utm_medium=rss"
    assert canonical_url(syndicated, declared=declared) == ARTICLE


def test_relative_declared_canonical_is_resolved() -> None:
    assert canonical_url("https://example.com/x?id=1", declared="/news/2024/05/bridge-closes") == (
        ARTICLE
    )


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "javascript:void(0)", "mailto:desk@example.com", "ftp://example.com/a", "http://"],
)
def test_unusable_declared_canonical_is_ignored(bad: str) -> None:
    assert canonical_url(ARTICLE + "?utm_source=x", declared=bad) == ARTICLE


def test_declared_site_root_is_not_trusted_for_an_article() -> None:
    assert canonical_url(ARTICLE, declared="https://example.com/") == ARTICLE
    assert canonical_url("https://example.com/?utm_source=x", declared="https://example.com") == (
        "https://example.com/"
    )


# --- bad input and properties --------------------------------------------------------------


@pytest.mark.parametrize("odd", ["", "   ", "not a url", "ftp://x.com/a#f", "http://x.com:abc/"])
def test_non_http_input_is_returned_stripped(odd: str) -> None:
    assert canonical_url(odd) == odd.strip().split("#", 1)[0]


@given(st.text())
def test_never_raises(raw: str) -> None:
    canonical_url(raw, declared=raw)


_TRICKY_SEGMENTS = [
    "amp",
    "AMP",
    ".amp",
    "x.amp",
    "a.amp.html",
    "..",
    ".",
    "",
    "%7e",
    "%2F",
    "é",
    "%zz",
]
_path = st.lists(
    st.one_of(st.sampled_from(_TRICKY_SEGMENTS), st.text(alphabet="ab.%é", max_size=5)),
    max_size=6,
).map("/".join)
_urls = st.builds(
    lambda scheme, host, port, path, query: f"{scheme}://{host}{port}/{path}{query}",
    st.sampled_from(["http", "https", "HTTPS"]),
    st.sampled_from(["example.com", "www.Example.com", "m.example.co.uk", "amp.news.example"]),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    _path,
    st.sampled_from(["", "?b=2&a=1", "?utm_source=x&id=3", "?amp=1", "?q=a+b#frag"]),
)


@given(_urls)
def test_canonical_form_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


# --- ids ------------------------------------------------------------------------------------


def test_article_id_is_the_sha256_prefix_of_the_canonical_url() -> None:
    expected = hashlib.sha256(ARTICLE.encode()).hexdigest()[:32]
    assert article_id(ARTICLE) == expected
    assert len(expected) == 32 and int(expected, 16) >= 0


def test_variants_share_an_id_and_different_articles_do_not() -> None:
    variants = {
        article_id(canonical_url(u))
        for u in (ARTICLE, "https://m.example.com/news/2024/05/bridge-closes/amp?utm_source=x")
    }
    assert len(variants) == 1
    assert article_id(canonical_url(ARTICLE)) != article_id(canonical_url(ARTICLE + "-2"))
