"""Canonical URLs and the article ids derived from them.

``canonical_url`` maps the many spellings of one article's address (tracking
parameters, AMP and mobile variants, ``www.``, default ports, fragments,
escaping) onto one string, and ``article_id`` hashes that string into the id
every stage and the Elasticsearch ``_id`` use. The canonical form is an
identity key: it is a working URL for almost every site, but people should be
shown the article's own ``url``.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import (
    SplitResult,
    parse_qsl,
    quote,
    quote_from_bytes,
    unquote_to_bytes,
    urljoin,
    urlsplit,
    urlunsplit,
)

__all__ = ["TRACKING_PARAMS", "TRACKING_PREFIXES", "article_id", "canonical_url"]

_HTTP_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that only say how a reader arrived (ad clicks, newsletters,
# share buttons, analytics). Compared case-insensitively. Generic names that
# some sites use for content (``ref``, ``src``, ``source``, ``from``) are
# deliberately absent: merging two different pages costs more than missing a
# duplicate, which the text fingerprints catch anyway.
TRACKING_PARAMS = frozenset(
    {
        # ad and click ids
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "rb_clickid",
        "s_cid",
        "wt.mc_id",
        "wt_mc_id",
        # e-mail and newsletter tools
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "vero_id",
        "vero_conv",
        "oly_enc_id",
        "oly_anon_id",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "sr_share",
        # social share buttons
        "igshid",
        "igsh",
        "ref_src",
        "ref_url",
        "smid",
        "smtyp",
        "fb_action_ids",
        "fb_action_types",
        "fb_source",
        "fb_ref",
        "action_object_map",
        "action_type_map",
        "action_ref_map",
        "__twitter_impression",
        # publishers' own campaign ids and analytics cookies echoed into links
        "cmpid",
        "cmp",
        "icid",
        "ocid",
        "ncid",
        "xtor",
        "ito",
        "_ga",
        "_gl",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        # AMP caches and viewers
        "usqp",
        "amp_js_v",
        "amp_gsa",
        "amp_tf",
        "__amp_source_origin",
        "aoh",
    }
)

# Whole families of tracking parameters: Google Analytics (utm_), Piwik (pk_),
# Matomo (mtm_), HubSpot ads (hsa_), comScore (ns_), AT Internet (at_).
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "ns_", "at_")

# Parameters that switch a page to its AMP rendering, with the values that
# do so: ``?amp``, ``?amp=1``, ``?outputType=amp`` (Arc XP sites), ``?output=amp``.
_AMP_SWITCHES = {
    "amp": frozenset({"", "1", "true", "yes"}),
    "outputtype": frozenset({"amp"}),
    "output": frozenset({"amp"}),
}

# Leading host labels that name a rendering of the same site, not another
# site: mobile (m., mobile.), AMP (amp.) and the conventional www.
_VARIANT_HOST_LABELS = frozenset({"www", "m", "mobile", "amp"})

# Characters left unescaped in a path segment: RFC 3986 pchar minus "%" (every
# other byte is percent-encoded, so two spellings of one path meet).
_PATH_SAFE = "!$&'()*+,;=:@-._~"

_AMP_SUFFIX = re.compile(r"(?:\.amp)+(?=\.html?$|$)", re.IGNORECASE)


def article_id(canonical: str) -> str:
    """The article id: the first 32 hex digits of sha256 of ``canonical``.

    128 bits: collisions are out of reach for any number of articles we will
    ever hold, and the id stays short enough for Kafka keys and ``_id``.
    """
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def canonical_url(url: str, *, declared: str | None = None) -> str:
    """The canonical form of ``url``, or of ``declared`` when that can be trusted.

    ``declared`` is what the page says about itself (``rel=canonical``,
    ``og:url``). It wins when it resolves (against ``url`` if relative) to an
    absolute http(s) URL with a host, on any host, unless it points at a site's
    root while ``url`` does not: a common CMS bug that would give every article
    of a site the same id.

    The result has a lower-case scheme and host, no user info, no default port,
    no fragment, no tracking parameters, a sorted query, normalised escapes and
    dot segments, no trailing slash (except the root), and AMP and mobile
    variants folded into the plain page. A string that is not an absolute
    http(s) URL is returned stripped of surrounding whitespace and of its
    fragment; this function never raises.
    """
    page = _canonical_http(url.strip())
    if declared is not None:
        chosen = _trusted_declared(url.strip(), declared.strip(), page)
        if chosen is not None:
            return chosen
    if page is not None:
        return page
    return url.strip().split("#", 1)[0]


def _trusted_declared(url: str, declared: str, page: str | None) -> str | None:
    """``declared`` in canonical form, or None when it should not be believed."""
    if not declared:
        return None
    try:
        absolute = urljoin(url, declared) if page is not None else declared
    except ValueError:
        return None
    candidate = _canonical_http(absolute)
    if candidate is None:
        return None
    if _is_root(candidate) and (page is None or not _is_root(page)):
        return None
    return candidate


def _is_root(canonical: str) -> bool:
    parts = urlsplit(canonical)
    return parts.path == "/" and not parts.query


def _canonical_http(url: str) -> str | None:
    """Canonical form of an absolute http(s) URL; None if ``url`` is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = _normalise_host(parts.hostname or "")
    if scheme not in _HTTP_SCHEMES or not host:
        return None
    unwrapped = _unwrap_amp_cache(host, parts)
    if unwrapped is not None:
        return _canonical_http(unwrapped)
    host = _strip_variant_labels(host)
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal keeps its brackets
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _normalise_path(parts.path)
    query = _normalise_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def _normalise_host(hostname: str) -> str:
    """Lower-case host without a trailing dot, IDNs in their ASCII (punycode) form."""
    host = hostname.lower().rstrip(".")
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _strip_variant_labels(host: str) -> str:
    """Drop leading ``www.``/``m.``/``mobile.``/``amp.`` labels, keeping a registrable name."""
    if host.startswith("[") or host.replace(".", "").isdigit():
        return host  # IP literals have no labels to strip
    labels = host.split(".")
    while len(labels) > 2 and labels[0] in _VARIANT_HOST_LABELS:
        labels = labels[1:]
    return ".".join(labels)


def _unwrap_amp_cache(host: str, parts: SplitResult) -> str | None:
    """The publisher's URL inside a Google AMP cache or viewer URL, else None.

    ``<x>.cdn.ampproject.org/c/s/<host>/<path>`` and
    ``www.google.<tld>/amp/s/<host>/<path>`` serve a publisher's page; ``s/``
    means https.
    """
    path = parts.path
    if host.endswith(".cdn.ampproject.org") and path[:3] in ("/c/", "/v/"):
        inner = path[3:]
    elif (host.startswith("google.") or host.startswith("www.google.")) and path.startswith(
        "/amp/"
    ):
        inner = path[5:]
    else:
        return None
    scheme = "http"
    if inner.startswith("s/"):
        scheme, inner = "https", inner[2:]
    if not inner or inner.startswith("/"):
        return None
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{inner}{query}"


def _normalise_path(path: str) -> str:
    """Resolve dot segments, drop empty and ``amp`` segments and ``.amp`` suffixes,
    normalise escapes; no trailing slash except for the root."""
    segments: list[str] = []
    for raw in path.split("/"):
        segment = _AMP_SUFFIX.sub("", quote_from_bytes(unquote_to_bytes(raw), safe=_PATH_SAFE))
        if segment in ("", ".") or segment.lower() == "amp":
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(segments)


def _normalise_query(query: str) -> str:
    """Tracking and AMP switches removed; the rest sorted and uniformly escaped."""
    if not query:
        return ""
    kept = sorted(
        (name, value)
        for name, value in parse_qsl(query, keep_blank_values=True)
        if not _is_tracking(name, value)
    )
    return "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in kept)


def _is_tracking(name: str, value: str) -> bool:
    """True for a parameter that does not change which article a URL names."""
    lowered = name.lower()
    if lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES):
        return True
    return value.lower() in _AMP_SWITCHES.get(lowered, frozenset())
