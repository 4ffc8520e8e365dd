"""The shared HTTP client against a local server: limits, decoding, redirects, the address guard."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import time
import zlib
from pathlib import Path

import brotli
import pytest

from shared.http import AddressPolicy, FetchError, HttpClient, cache_ttl_s, retry_after_s
from tests.unit.fetcher.site import Site, drip, redirect, stall, static


async def test_gzip_deflate_and_brotli_bodies_are_decoded(site: Site, http: HttpClient) -> None:
    text = b"<html>" + b"news " * 1000 + b"</html>"
    for coding, packed in [
        ("gzip", gzip.compress(text)),
        ("deflate", zlib.compress(text)),
        ("deflate", zlib.compress(text)[2:-4]),  # raw deflate, as some servers send it
        ("br", brotli.compress(text)),
    ]:
        url = site.route(f"/{coding}", static(packed, headers={"Content-Encoding": coding}))
        response = await http.get(url)
        assert response.content == text, coding
    assert "br" in site.requests[0].headers["Accept-Encoding"]


@pytest.mark.parametrize("coding", ["gzip", "br"])
async def test_decompression_bomb_stops_at_the_cap(
    site: Site, http: HttpClient, coding: str
) -> None:
    zeros = b"\0" * 50_000_000  # 50 MB that packs into a few kB
    packed = gzip.compress(zeros) if coding == "gzip" else brotli.compress(zeros, quality=1)
    assert len(packed) < 200_000
    url = site.route("/bomb", static(packed, headers={"Content-Encoding": coding}))
    with pytest.raises(FetchError) as info:
        await http.get(url)
    assert info.value.reason == "too-large"


async def test_declared_length_over_the_cap_is_refused_before_reading(
    site: Site, http: HttpClient
) -> None:
    url = site.route("/big", static(b"x" * 300_000))
    with pytest.raises(FetchError) as info:
        await http.get(url)
    assert info.value.reason == "too-large"
    small = await http.get(url, max_bytes=400_000)
    assert len(small.content) == 300_000


async def test_unknown_content_encoding_is_refused(site: Site, http: HttpClient) -> None:
    url = site.route("/zstd", static(b"\x28\xb5\x2f\xfd", headers={"Content-Encoding": "zstd"}))
    with pytest.raises(FetchError) as info:
        await http.get(url)
    assert info.value.reason == "bad-encoding"


async def test_redirects_are_followed_and_the_final_url_recorded(
    site: Site, http: HttpClient
) -> None:
    site.route("/a", redirect("/b", 301))
    site.route("/b", redirect(site.url("/c"), 307))
    site.route("/c", static("<p>here</p>"))
    response = await http.get(site.url("/a"))
    assert response.status == 200 and response.final_url == site.url("/c")
    assert response.url == site.url("/a")
    assert response.redirects == (site.url("/a"), site.url("/b"))


async def test_redirect_loop_and_too_many_redirects(site: Site, http: HttpClient) -> None:
    site.route("/loop1", redirect("/loop2"))
    site.route("/loop2", redirect("/loop1"))
    with pytest.raises(FetchError) as info:
        await http.get(site.url("/loop1"))
    assert info.value.reason == "redirect-loop"
    for i in range(10):
        site.route(f"/hop{i}", redirect(f"/hop{i + 1}"))
    with pytest.raises(FetchError) as info:
        await http.get(site.url("/hop0"))
    assert info.value.reason == "too-many-redirects"


async def test_redirect_to_another_scheme_is_refused(site: Site, http: HttpClient) -> None:
    url = site.route("/ftp", redirect("ftp://example.com/x"))
    with pytest.raises(FetchError) as info:
        await http.get(url)
    assert info.value.reason == "bad-url"


async def test_a_server_dripping_bytes_runs_into_the_total_timeout(site: Site) -> None:
    client = HttpClient(
        policy=AddressPolicy.from_entries(["127.0.0.1"]), read_timeout_s=5, total_timeout_s=1
    )
    url = site.route("/drip", drip(every_s=0.2))
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        await client.get(url)
    assert info.value.reason == "timeout" and info.value.transient
    assert time.monotonic() - started < 3
    await client.aclose()


async def test_a_server_that_does_not_answer_runs_into_the_read_timeout(site: Site) -> None:
    client = HttpClient(
        policy=AddressPolicy.from_entries(["127.0.0.1"]), read_timeout_s=0.5, total_timeout_s=5
    )
    url = site.route("/stall", stall(1.5))
    with pytest.raises(FetchError) as info:
        await client.get(url)
    assert info.value.reason == "timeout"
    await client.aclose()


async def test_connection_refused_is_a_transient_connection_error() -> None:
    client = HttpClient(policy=AddressPolicy.from_entries(["127.0.0.1"]))
    with pytest.raises(FetchError) as info:
        await client.get("http://127.0.0.1:9/")  # the discard port: nobody listens
    assert info.value.reason == "connection" and info.value.transient
    await client.aclose()


async def test_error_bodies_are_returned_truncated_not_refused(
    site: Site, http: HttpClient
) -> None:
    url = site.route("/err", static(b"e" * 500_000, status=500))
    response = await http.get(url)
    assert response.status == 500 and len(response.content) <= 64 * 1024


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        ("café".encode("latin-1"), {"Content-Type": "text/html; charset=iso-8859-1"}, "café"),
        (
            '<html><head><meta charset="windows-1252"></head>café</html>'.encode("cp1252"),
            {"Content-Type": "text/html"},
            "café",
        ),
        (
            '<?xml version="1.0" encoding="ISO-8859-1"?><a>café</a>'.encode("latin-1"),
            {"Content-Type": "application/xml"},
            "café",
        ),
        ("\ufeffcafé".encode("utf-16"), {"Content-Type": "text/plain"}, "café"),
        ("café".encode(), {"Content-Type": "text/html"}, "café"),
    ],
)
async def test_charset_from_header_meta_xml_declaration_bom_or_utf8(
    site: Site, http: HttpClient, body: bytes, headers: dict[str, str], expected: str
) -> None:
    url = site.route("/text", static(body, headers=headers))
    assert expected in (await http.get(url)).text()


async def test_user_agent_is_sent(site: Site) -> None:
    client = HttpClient(policy=AddressPolicy.from_entries(["127.0.0.1"]), user_agent="ua-test/1")
    await client.get(site.route("/", static("ok")))
    assert site.requests[0].headers["User-Agent"] == "ua-test/1"
    await client.aclose()


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    # The server answers as if keeping the connection alive, then hangs up:
    # the pool must notice before the next request and open a new connection.
    connections = 0

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = HttpClient(policy=AddressPolicy.from_entries(["127.0.0.1"]))
    try:
        for _ in range(3):
            response = await client.get(f"http://127.0.0.1:{port}/")
            assert (response.status, response.content) == (200, b"ok")
            await asyncio.sleep(0.05)  # for the server's hang-up to arrive
        assert connections == 3
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


# --- the address guard -----------------------------------------------------------


async def test_loopback_is_refused_unless_allowed(site: Site) -> None:
    url = site.route("/", static("secret"))
    default = HttpClient()
    with pytest.raises(FetchError) as info:
        await default.get(url)
    assert info.value.reason == "blocked-address"
    localhost = url.replace("127.0.0.1", "localhost")
    with pytest.raises(FetchError) as info:
        await default.get(localhost)  # after DNS: localhost is loopback too
    assert info.value.reason == "blocked-address"
    assert site.hits["/"] == 0
    await default.aclose()


async def test_every_redirect_hop_is_checked(site: Site) -> None:
    # "localhost" is allowed by name; the redirect goes to 127.0.0.1, which is not.
    client = HttpClient(policy=AddressPolicy.from_entries(["localhost"]))
    site.route("/inner", static("metadata"))
    start = site.route("/out", redirect(site.url("/inner")))
    with pytest.raises(FetchError) as info:
        await client.get(start.replace("127.0.0.1", "localhost"))
    assert info.value.reason == "blocked-address"
    assert site.hits["/out"] == 1 and site.hits["/inner"] == 0
    await client.aclose()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.100.100.200",  # metadata in shared (CGNAT) space
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_policy_refuses_non_public_addresses(address: str) -> None:
    assert not AddressPolicy().allows("h.example", ipaddress.ip_address(address))


def test_policy_allows_public_addresses_and_named_exceptions() -> None:
    public = ipaddress.ip_address("93.184.216.34")
    assert AddressPolicy().allows("example.com", public)
    policy = AddressPolicy.from_entries(["demo-site", "10.0.0.0/8", "127.0.0.1", " "])
    assert policy.allows("demo-site", ipaddress.ip_address("172.18.0.5"))
    assert policy.allows("x", ipaddress.ip_address("10.9.8.7"))
    assert policy.allows("x", ipaddress.ip_address("127.0.0.1"))
    assert not policy.allows("x", ipaddress.ip_address("127.0.0.2"))
    assert AddressPolicy(allow_private=True).allows("x", ipaddress.ip_address("::1"))


def test_local_paths_only_under_the_allowed_roots(tmp_path: Path) -> None:
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "a.txt").write_text("x")
    (tmp_path / "news" / "escape").symlink_to("/etc")
    client = HttpClient(file_roots=[tmp_path / "news"])
    assert client.local_path(str(tmp_path / "news" / "a.txt")) == tmp_path / "news" / "a.txt"
    assert client.local_path((tmp_path / "news").as_uri()) == tmp_path / "news"
    for outside in ["/etc/passwd", str(tmp_path / "news" / "escape" / "passwd"), "../../etc"]:
        with pytest.raises(FetchError) as info:
            client.local_path(outside)
        assert info.value.reason == "blocked-path"
    with pytest.raises(FetchError):
        HttpClient().local_path(str(tmp_path / "news"))  # no roots: nothing is readable


def test_freshness_and_retry_after_headers() -> None:
    assert cache_ttl_s({"cache-control": "public, max-age=600"}) == 600
    assert cache_ttl_s({"cache-control": "max-age=60, s-maxage=300"}) == 300
    assert cache_ttl_s({"cache-control": "no-cache"}) is None
    expires = {
        "date": "Tue, 03 Mar 2026 10:00:00 GMT",
        "expires": "Tue, 03 Mar 2026 10:30:00 GMT",
    }
    assert cache_ttl_s(expires) == 1800
    assert retry_after_s({"retry-after": "120"}) == 120
    now = 1_772_532_000.0  # 2026-03-03 10:00:00 UTC
    assert retry_after_s({"retry-after": "Tue, 03 Mar 2026 10:05:00 GMT"}, now=now) == 300
    assert retry_after_s({"retry-after": "soon"}) is None
