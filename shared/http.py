"""The HTTP client sources and the fetcher share: bounded, timed, guarded, decoded.

What every request gets, whoever makes it:

- **Address guard.** Host names are resolved by the client itself and the
  connection is made to a checked address, so private, loopback, link-local,
  shared (CGNAT), multicast and cloud-metadata addresses are refused after DNS
  resolution and on every redirect hop (DNS rebinding included), unless an
  :class:`AddressPolicy` names them.
- **Bounds.** Connect, read and total time limits (a server that drips one
  byte a second runs into the total); a body cap applied *after*
  decompression, with gzip, deflate and brotli decoded here in bounded steps
  so a small bomb never inflates in memory; redirects followed up to a limit,
  loops detected, the final URL recorded.
- **Decoding.** The declared charset, else a BOM, else the document's own
  ``<meta charset>`` or XML declaration, else UTF-8, else detection.

Failures are translated into :class:`FetchError` with a short reason code.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import aiohttp
import brotli
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult

from shared.exceptions import NewsflowError

__all__ = [
    "AddressPolicy",
    "FetchError",
    "HttpClient",
    "HttpResponse",
    "cache_ttl_s",
    "retry_after_s",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Reasons after which the same request may well succeed later (the world is
# down or busy); every other reason describes the resource itself.
TRANSIENT_REASONS = frozenset(
    {"timeout", "connection", "dns", "host-throttled", "robots-unavailable", "http-408", "http-429"}
)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Decompressed output is produced in steps of this size, so the body cap is
# checked before more than one step beyond it is ever held in memory.
_STEP = 64 * 1024
# Bodies of error responses are only read for their first bytes: nobody uses
# them, and a server must not make us wait for a large one.
_ERROR_BODY_BYTES = 64 * 1024
# Where a document declares its own encoding: within its first bytes.
_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)["']""", re.I)
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


class FetchError(NewsflowError):
    """A request that produced no usable response; ``reason`` is a short code.

    ``retry_after_s`` carries the server's own Retry-After when it gave one.
    """

    def __init__(self, reason: str, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after_s = retry_after_s

    @property
    def transient(self) -> bool:
        """Whether the same request may succeed later (timeouts, 5xx, 429, throttling)."""
        return self.reason in TRANSIENT_REASONS or self.reason.startswith("http-5")

    def __str__(self) -> str:
        return f"{self.reason}: {self.args[0]}"


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses the client may connect to.

    Public (globally routable) addresses always; others only when their host
    name is in ``hosts``, the address is in one of ``networks``, or
    ``allow_private`` is set.
    """

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    allow_private: bool = False

    @classmethod
    def from_entries(cls, entries: Iterable[str], *, allow_private: bool = False) -> AddressPolicy:
        """A policy from a list of host names, addresses and CIDR networks."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(networks), allow_private)

    def allows(self, host: str, address: IPAddress) -> bool:
        """Whether connecting to ``address`` (which ``host`` resolved to) is allowed."""
        if self.allow_private or host.lower().rstrip(".") in self.hosts:
            return True
        if any(address in network for network in self.networks):
            return True
        return _is_public(address)


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:127.0.0.1 reaches 127.0.0.1.
        return _is_public(address.ipv4_mapped)
    # is_global is False for private, loopback, link-local (169.254.169.254,
    # the cloud metadata address, among them), shared CGNAT space (where some
    # clouds put theirs), unique-local IPv6 (fd00:ec2::254) and reserved ranges.
    return address.is_global and not address.is_multicast


class BlockedAddress(FetchError):
    """The host resolves only to addresses the policy refuses."""


class _GuardedResolver(AbstractResolver):
    """Resolves host names itself and hands aiohttp only addresses the policy allows.

    aiohttp connects to the addresses given here (it does not resolve the
    name again), which closes the window in which a second DNS answer could
    point elsewhere. TLS still verifies and sends SNI for the host name.
    Host names that are IP addresses never reach a resolver: the transport
    checks those itself (:class:`_GuardedTransport`).
    """

    def __init__(self, policy: AddressPolicy, timeout_s: float) -> None:
        self._policy = policy
        self._timeout_s = timeout_s

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = _allowed(self._policy, host, await _resolve(host, port, self._timeout_s))
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        pass


def _allowed(policy: AddressPolicy, host: str, addresses: list[IPAddress]) -> list[IPAddress]:
    """The addresses of ``host`` the policy allows; :class:`BlockedAddress` if none."""
    allowed = [a for a in addresses if policy.allows(host, a)]
    if not allowed:
        shown = ", ".join(sorted({str(a) for a in addresses}))
        raise BlockedAddress(
            "blocked-address",
            f"{host} resolves to {shown}: not a public address and not in the allow-list",
        )
    return allowed


async def _resolve(host: str, port: int, timeout: float | None) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except (TimeoutError, OSError) as exc:
        raise FetchError("dns", f"{host}: cannot resolve ({exc})") from exc
    # Scoped IPv6 addresses come as "fe80::1%eth0"; the scope is not part of the address.
    return list(
        dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    )


class _GuardedTransport(httpx.AsyncBaseTransport):
    """httpx's requests sent by aiohttp, to addresses the policy allows.

    httpx stays the client (its API, cookies, URL handling); aiohttp speaks
    HTTP/1.1 on the wire. httpcore's pool, holding keep-alive connections,
    cost more CPU per request than the rest of the fetch: it scans every idle
    connection several times per request. aiohttp neither decompresses
    (decoding is ours, bounded) nor keeps cookies (httpx does). Its
    failures become httpx's, connection refused apart from timeouts, since
    their reason codes drive each source's health (httpx-aiohttp, which does
    the same, maps a refused connection to a connect timeout).
    """

    def __init__(self, policy: AddressPolicy, limits: httpx.Limits, dns_timeout_s: float) -> None:
        self._policy = policy
        self._limits = limits
        self._dns_timeout_s = dns_timeout_s
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Built on the first request, inside the event loop that uses it.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=_GuardedResolver(self._policy, self._dns_timeout_s),
                ssl=httpx.create_ssl_context(trust_env=False),
                limit=self._limits.max_connections or 0,
                limit_per_host=0,  # per-host politeness is the caller's (services.fetcher.polite)
                keepalive_timeout=self._limits.keepalive_expiry,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=False,
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            pass  # a name: the resolver checks the addresses it resolves to
        else:
            _allowed(self._policy, host, [literal])
        timeout = request.extensions.get("timeout", {})
        with _as_httpx_errors():
            response = await self._client().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=request.content or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"), sock_read=timeout.get("read")
                ),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _Body(httpx.AsyncByteStream):
    """A response body as aiohttp receives it, still encoded."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # Back to the pool when read to the end; a body left unread closes it.
        self._response.release()


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """aiohttp's failures as the httpx errors HttpClient translates."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc)) from exc
    except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out") from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.InvalidURL(str(exc)) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc)) from exc
    except aiohttp.ClientError as exc:  # reset, disconnected, a malformed response or body
        raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from exc


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def flush(self) -> bytes: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        yield data

    def flush(self) -> bytes:
        return b""


class _Zlib:
    """gzip and deflate, inflated at most ``_STEP`` bytes at a time."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._first = True
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        pending = data
        while pending:
            try:
                out = self._obj.decompress(pending, _STEP)
            except zlib.error:
                if self._gzip or not self._first:
                    raise
                # "deflate" is sent both zlib-wrapped (as specified) and raw.
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._obj.decompress(pending, _STEP)
            self._first = False
            pending = self._obj.unconsumed_tail
            yield out

    def flush(self) -> bytes:
        return self._obj.flush()


class _Brotli:
    """brotli, with its output buffer bounded to ``_STEP`` per call."""

    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        yield self._obj.process(data, output_buffer_limit=_STEP)
        while not self._obj.can_accept_more_data():
            yield self._obj.process(b"", output_buffer_limit=_STEP)

    def flush(self) -> bytes:
        return b""


def _decoders(content_encoding: str) -> list[_Decoder]:
    """Decoders for a Content-Encoding header, in the order to apply them."""
    decoders: list[_Decoder] = []
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip"):
            decoders.append(_Zlib(gzip=True))
        elif coding == "deflate":
            decoders.append(_Zlib(gzip=False))
        elif coding == "br":
            decoders.append(_Brotli())
        elif coding != "identity":
            raise FetchError("bad-encoding", f"unsupported content encoding {coding!r}")
    return decoders or [_Identity()]


def _decode_chain(decoders: list[_Decoder], data: bytes) -> Iterator[bytes]:
    if not decoders:
        yield data
        return
    for chunk in decoders[0].feed(data):
        yield from _decode_chain(decoders[1:], chunk)


def _flush_chain(decoders: list[_Decoder]) -> Iterator[bytes]:
    for i, decoder in enumerate(decoders):
        tail = decoder.flush()
        if tail:
            yield from _decode_chain(decoders[i + 1 :], tail)


@dataclass(frozen=True)
class HttpResponse:
    """A complete, decoded response. ``redirects`` lists the URLs that redirected."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    encoding: str | None = None
    redirects: tuple[str, ...] = ()

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        """The body as text; never raises.

        The declared charset, else a byte-order mark, else the document's own
        declaration (``<meta charset>``, ``<?xml encoding?>``), else UTF-8,
        else the best guess of charset-normalizer, else UTF-8 with replacement.
        """
        for encoding in (self.encoding, _bom_encoding(self.content), _declared(self.content)):
            if encoding:
                try:
                    return self.content.decode(encoding)
                except (LookupError, UnicodeDecodeError):
                    pass
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError:
            from charset_normalizer import from_bytes

            best = from_bytes(self.content).best()
            return str(best) if best is not None else self.content.decode("utf-8", "replace")


def _bom_encoding(content: bytes) -> str | None:
    return next((name for bom, name in _BOMS if content.startswith(bom)), None)


def _declared(content: bytes) -> str | None:
    head = content[:_SNIFF_BYTES]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii") if match else None


def retry_after_s(headers: dict[str, str], now: float | None = None) -> float | None:
    """Seconds a Retry-After header (delta-seconds or an HTTP date) asks to wait."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(when.timestamp() - now, 0.0)


def cache_ttl_s(headers: dict[str, str], now: float | None = None) -> float | None:
    """How long the response says it stays fresh: Cache-Control max-age, else Expires."""
    directives: dict[str, str] = {}
    for part in headers.get("cache-control", "").lower().split(","):
        name, _, value = part.strip().partition("=")
        directives[name] = value.strip().strip('"')
    for name in ("s-maxage", "max-age"):
        if directives.get(name, "").isdigit():
            return float(directives[name])
    expires = headers.get("expires")
    if expires:
        try:
            when = parsedate_to_datetime(expires)
            date = parsedate_to_datetime(headers["date"]) if "date" in headers else None
        except (TypeError, ValueError, KeyError):
            return None
        base = date.timestamp() if date is not None else (time.time() if now is None else now)
        return max(when.timestamp() - base, 0.0)
    return None


class HttpClient:
    """An async HTTP client with the limits a crawler needs.

    ``policy`` decides which addresses may be reached (default: public ones
    only). A ``transport`` given by a test replaces the network entirely, and
    with it the address guard, which lives in the default transport.
    """

    def __init__(
        self,
        *,
        user_agent: str = "newsflow/0.1 (+https://github.com/newsflow)",
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 15.0,
        total_timeout_s: float = 30.0,
        max_bytes: int = 5_000_000,
        max_redirects: int = 5,
        max_connections: int = 100,
        policy: AddressPolicy | None = None,
        file_roots: Iterable[str | Path] = (),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self._file_roots = tuple(Path(root).resolve() for root in file_roots)
        self._max_redirects = max_redirects
        self._total_timeout_s = total_timeout_s
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        dns = connect_timeout_s  # resolving is part of connecting
        self._client = httpx.AsyncClient(
            # Decoding is ours (bounded), so only codings we decode are offered.
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate, br"},
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
            follow_redirects=False,
            transport=transport or _GuardedTransport(policy or AddressPolicy(), limits, dns),
            trust_env=False,
        )

    async def get(
        self, url: str, headers: dict[str, str] | None = None, *, max_bytes: int | None = None
    ) -> HttpResponse:
        """GET ``url``, following redirects. Any final status is returned.

        Raises :class:`FetchError` when no response could be had: ``timeout``,
        ``connection``, ``dns``, ``blocked-address``, ``too-many-redirects``,
        ``redirect-loop``, ``bad-url``, ``too-large`` (over ``max_bytes``,
        default the client's, after decompression) or ``bad-encoding``.
        """
        return await self._get(url, headers, max_bytes=max_bytes, hooks=True)

    def local_path(self, location: str) -> Path:
        """The local file or folder that ``location`` (a path or ``file:`` URL) names.

        Local reads are refused (``blocked-path``) unless the path, symlinks
        resolved, lies under one of the client's ``file_roots``: a source
        registry must not become a way to read a worker's files.
        """
        parts = urlsplit(location)
        if parts.scheme == "file":
            raw = url2pathname(parts.path)
        elif parts.scheme == "":
            raw = location
        else:
            raise FetchError("bad-url", f"{location}: not a local path or file: URL")
        path = Path(raw).expanduser().resolve()
        if not any(path == root or path.is_relative_to(root) for root in self._file_roots):
            allowed = ", ".join(map(str, self._file_roots)) or "none configured"
            raise FetchError("blocked-path", f"{path}: outside the allowed roots ({allowed})")
        return path

    async def before_request(self, url: str) -> None:
        """Called before each request, redirect hops included; a subclass may wait or refuse."""

    def after_response(self, url: str, status: int, headers: dict[str, str]) -> None:
        """Called with each response's status and headers, redirects included."""

    async def _get(
        self, url: str, headers: dict[str, str] | None, *, max_bytes: int | None, hooks: bool
    ) -> HttpResponse:
        limit = self.max_bytes if max_bytes is None else max_bytes
        try:
            async with asyncio.timeout(self._total_timeout_s):
                return await self._follow(url, headers or {}, limit, hooks)
        except TimeoutError as exc:
            raise FetchError(
                "timeout", f"{url}: no complete response within {self._total_timeout_s:g} s"
            ) from exc

    async def _follow(
        self, url: str, headers: dict[str, str], limit: int, hooks: bool
    ) -> HttpResponse:
        current = url
        visited = [url]
        while True:
            _check_url(current)
            if hooks:
                await self.before_request(current)
            status, response_headers, content, encoding = await self._once(current, headers, limit)
            if hooks:
                self.after_response(current, status, response_headers)
            location = response_headers.get("location")
            if status not in _REDIRECTS or not location:
                return HttpResponse(
                    url=url,
                    final_url=current,
                    status=status,
                    headers=response_headers,
                    content=content,
                    encoding=encoding,
                    redirects=tuple(visited[:-1]),
                )
            target = urljoin(current, location.strip())
            if target in visited:
                raise FetchError("redirect-loop", f"{url}: redirects back to {target}")
            if len(visited) > self._max_redirects:
                raise FetchError(
                    "too-many-redirects", f"{url}: more than {self._max_redirects} redirects"
                )
            visited.append(target)
            current = target

    async def _once(
        self, url: str, headers: dict[str, str], limit: int
    ) -> tuple[int, dict[str, str], bytes, str | None]:
        try:
            request = self._client.build_request("GET", url, headers=headers)
            response = await self._client.send(request, stream=True)
            try:
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                status = response.status_code
                if status in _REDIRECTS or status == 304:
                    return status, response_headers, b"", None
                body_limit = limit if status < 400 else _ERROR_BODY_BYTES
                content = await _read_bounded(
                    url, response, response_headers, body_limit, truncate=status >= 400
                )
                return status, response_headers, content, response.charset_encoding
            finally:
                await response.aclose()
        except FetchError:
            raise
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", f"{url}: {type(exc).__name__}") from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError("bad-url", f"{url}: {exc}") from exc
        except (httpx.TransportError, httpx.StreamError, ssl.SSLError) as exc:
            raise FetchError("connection", f"{url}: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("bad-url", f"{url}: only http and https URLs are fetched")


async def _read_bounded(
    url: str, response: httpx.Response, headers: dict[str, str], limit: int, *, truncate: bool
) -> bytes:
    declared = headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > limit:
        raise FetchError("too-large", f"{url}: Content-Length {declared} over {limit} bytes")
    try:
        decoders = _decoders(headers.get("content-encoding", ""))
    except FetchError as exc:
        raise FetchError(exc.reason, f"{url}: {exc.args[0]}") from None
    chunks: list[bytes] = []
    size = 0

    def take(piece: bytes) -> bool:
        nonlocal size
        size += len(piece)
        if size > limit:
            if truncate:
                chunks.append(piece[: len(piece) - (size - limit)])
                return False
            raise FetchError("too-large", f"{url}: body over {limit} bytes (decompressed)")
        chunks.append(piece)
        return True

    try:
        content = response.content  # a response a test transport built from bytes
    except httpx.ResponseNotRead:
        pass
    else:
        take(content)
        return b"".join(chunks)
    try:
        async for raw in response.aiter_raw():
            for piece in _decode_chain(decoders, raw):
                if not take(piece):
                    return b"".join(chunks)
        for piece in _flush_chain(decoders):
            if not take(piece):
                break
    except (zlib.error, brotli.error) as exc:
        raise FetchError("bad-encoding", f"{url}: cannot decode the body ({exc})") from exc
    return b"".join(chunks)
