"""The HTTP client sources and the fetcher share: bounded, timed, decoded.

Every read is capped (``max_bytes`` after decompression), every request timed,
redirects followed up to a limit with the final URL recorded. Network failures
are translated into :class:`FetchError` with a short reason code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from shared.exceptions import NewsflowError

__all__ = ["FetchError", "HttpClient", "HttpResponse"]


class FetchError(NewsflowError):
    """A request that produced no usable response; ``reason`` is a short code."""

    def __init__(self, reason: str, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class HttpResponse:
    url: str
    final_url: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    encoding: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        """The body decoded: declared charset, else detected, else UTF-8 with replacement."""
        if self.encoding:
            try:
                return self.content.decode(self.encoding)
            except (LookupError, UnicodeDecodeError):
                pass
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError:
            from charset_normalizer import from_bytes

            best = from_bytes(self.content).best()
            return str(best) if best is not None else self.content.decode("utf-8", "replace")


class HttpClient:
    """An async HTTP client with the limits a crawler needs."""

    def __init__(
        self,
        *,
        user_agent: str = "newsflow/0.1 (+https://github.com/newsflow)",
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 15.0,
        max_bytes: int = 5_000_000,
        max_redirects: int = 5,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._max_bytes = max_bytes
        self._client = httpx.AsyncClient(
            headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate, br"},
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
            follow_redirects=True,
            max_redirects=max_redirects,
            limits=httpx.Limits(max_connections=max_connections),
            transport=transport,
        )

    async def get(self, url: str, headers: dict[str, str] | None = None) -> HttpResponse:
        """GET ``url``. Any status is returned; only transport failures raise."""
        try:
            async with self._client.stream("GET", url, headers=headers) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self._max_bytes:
                        raise FetchError("too-large", f"{url}: body over {self._max_bytes} bytes")
                    chunks.append(chunk)
                return HttpResponse(
                    url=url,
                    final_url=str(response.url),
                    status=response.status_code,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    content=b"".join(chunks),
                    encoding=response.charset_encoding,
                )
        except httpx.TooManyRedirects as exc:
            raise FetchError("too-many-redirects", f"{url}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise FetchError("timeout", f"{url}: {type(exc).__name__}") from exc
        except httpx.DecodingError as exc:
            raise FetchError("bad-encoding", f"{url}: {exc}") from exc
        except (httpx.TransportError, httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise FetchError("connection", f"{url}: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()
