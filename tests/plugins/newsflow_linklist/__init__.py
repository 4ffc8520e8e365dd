"""A third-party source kind for newsflow, shipped as its own package: ``linklist``.

The source's URL serves plain text, one article link per line (``#`` starts a
comment). It is the complete example of the README's "Writing a source
plugin", and the test suite uses it to show that the fetcher picks up a kind
it has never heard of through the ``newsflow.sources`` entry point alone.
"""

from __future__ import annotations

from shared.exceptions import PoisonMessage
from shared.http import HttpClient
from shared.models import FeedSource
from shared.sources import PollResult, PollState, SourceItem
from shared.sources.common import check_body, conditional_get

__all__ = ["LinkListSource"]


class LinkListSource:
    """One article link per line of a text file."""

    async def poll(self, source: FeedSource, state: PollState, http: HttpClient) -> PollResult:
        # Validators and body hash: a list that did not change costs a 304.
        got = await conditional_get(source.url, state, http)
        if got.response is None:
            return PollResult(state=got.state, not_modified=True, ttl_s=got.ttl_s)
        check_body(source.url, got.response.content)  # empty or binary: poison
        links = [
            line.strip()
            for line in got.response.text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not all(link.startswith(("http://", "https://")) for link in links):
            raise PoisonMessage("malformed-feed", f"{source.url}: a line is not an http(s) link")
        return PollResult(
            items=[SourceItem(url=link) for link in links], state=got.state, ttl_s=got.ttl_s
        )
