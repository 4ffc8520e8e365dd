"""Helpers every HTTP-based source kind uses: conditional GET and body checks.

Plugins outside this package may use them too; they are part of the plugin API.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from shared.exceptions import PoisonMessage
from shared.http import FetchError, HttpClient, HttpResponse, cache_ttl_s, retry_after_s
from shared.sources.base import PollState

__all__ = ["Conditional", "check_body", "conditional_get", "parse_xml", "refuse_entities"]

# Share of NUL and other control bytes above which a body is taken as binary:
# text, HTML, XML and JSON have none, while images and archives are full of them.
_BINARY_SHARE = 0.05
_SNIFF = 1024


@dataclass(frozen=True)
class Conditional:
    """A conditional GET's outcome.

    ``response`` is None when nothing changed (a 304, or the same body as
    last time); ``state`` carries the new validators either way; ``ttl_s`` is
    the response's own freshness (Cache-Control max-age or Expires).
    """

    response: HttpResponse | None
    state: PollState
    ttl_s: float | None = None
    final_url: str | None = None


async def conditional_get(
    url: str, state: PollState, http: HttpClient, *, max_bytes: int | None = None
) -> Conditional:
    """GET ``url`` with the validators of ``state``.

    Servers that ignore validators are caught by the body hash: the same body
    as last time counts as not modified. Raises :class:`FetchError`
    (``http-<status>``, with Retry-After when the server gave one) for an
    error status and for whatever the client raises.
    """
    headers: dict[str, str] = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    response = await http.get(url, headers=headers, max_bytes=max_bytes)
    ttl = cache_ttl_s(response.headers)
    if response.status == 304:
        return Conditional(None, state, ttl, response.final_url)
    if response.status >= 400:
        raise FetchError(
            f"http-{response.status}",
            f"{url}: HTTP {response.status}",
            retry_after_s=retry_after_s(response.headers),
        )
    if response.status >= 300:
        raise FetchError(f"http-{response.status}", f"{url}: HTTP {response.status} (no Location)")
    body_hash = hashlib.sha256(response.content).hexdigest()
    new_state = state.model_copy(
        update={
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            "body_hash": body_hash,
        }
    )
    if body_hash == state.body_hash:
        return Conditional(None, new_state, ttl, response.final_url)
    return Conditional(response, new_state, ttl, response.final_url)


def check_body(url: str, content: bytes) -> None:
    """Raise :class:`PoisonMessage` for a body no parser should see: empty or binary."""
    if not content.strip():
        raise PoisonMessage("empty-body", f"{url}: empty response body")
    head = content[:_SNIFF]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return  # UTF-16 text has NUL bytes by design
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    if controls > _BINARY_SHARE * len(head):
        raise PoisonMessage("binary-body", f"{url}: binary content, not text")


def refuse_entities(url: str, content: bytes) -> None:
    """Refuse XML that declares entities (billion laughs, external entities)."""
    if b"<!ENTITY" in content:
        raise PoisonMessage("xml-entities", f"{url}: XML declares entities; refused")


def parse_xml(url: str, content: bytes) -> ET.Element:
    """Parse XML without entity expansion or external references.

    Raises :class:`PoisonMessage` ``malformed-xml`` for anything that is not
    well-formed XML and ``xml-entities`` for XML that declares entities.
    """
    try:
        root: ET.Element = SafeET.fromstring(content)
    except DefusedXmlException as exc:
        raise PoisonMessage("xml-entities", f"{url}: {type(exc).__name__}; refused") from exc
    except ET.ParseError as exc:
        raise PoisonMessage("malformed-xml", f"{url}: not well-formed XML ({exc})") from exc
    return root
