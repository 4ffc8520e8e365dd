"""The demo's articles: fictional news written for newsflow, in three outlets.

One story (the harbour ferry) is syndicated: the wire publishes it, one outlet
republishes it with a rel=canonical link back to the wire, and another copies
its text under its own URL and site chrome. The pipeline must index it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["ARTICLES", "OUTLETS", "SYNDICATED", "Article", "Outlet"]


@dataclass(frozen=True)
class Outlet:
    slug: str
    name: str
    feed_kind: str  # "rss" or "atom"


@dataclass(frozen=True)
class Article:
    outlet: str
    slug: str
    title: str
    author: str
    paragraphs: tuple[str, ...]
    hours_ago: int
    canonical: str | None = None  # path of the original when this is a republication

    @property
    def path(self) -> str:
        return f"/{self.outlet}/articles/{self.slug}.html"

    def published(self, now: datetime) -> datetime:
        return (now - timedelta(hours=self.hours_ago)).replace(microsecond=0)


OUTLETS = (
    Outlet("lakeside-wire", "Lakeside Wire", "rss"),
    Outlet("valley-courier", "Valley Courier", "atom"),
    Outlet("northern-ledger", "Northern Ledger", "rss"),
)

_FERRY = (
    "The harbour authority of Port Meridian confirmed on Monday that its two oldest ferries "
    "will be replaced by battery-powered vessels before the autumn timetable begins.",
    "Officials said the new boats, built at the Calloway shipyard, can cross the bay eleven "
    "times on a single charge and will be topped up at new chargers on both piers.",
    "Commuters who rely on the early crossing welcomed the news but asked whether the "
    "quieter vessels would keep the current twenty-minute frequency during the winter storms.",
    "The authority expects the change to cut the service's diesel use by nine tenths and "
    "said fares will not rise this year, although a review of weekend prices is planned.",
)

ARTICLES = (
    Article(
        "lakeside-wire",
        "ferries-go-electric",
        "Port Meridian to retire diesel ferries for battery boats",
        "Ines Okafor",
        _FERRY,
        3,
    ),
    Article(
        "valley-courier",
        "ferries-go-electric-wire",
        "Port Meridian to retire diesel ferries for battery boats",
        "Ines Okafor",
        _FERRY,
        2,
        canonical="/lakeside-wire/articles/ferries-go-electric.html",
    ),
    Article(
        "northern-ledger",
        "harbour-ferries-battery",
        "Port Meridian to retire diesel ferries for battery boats",
        "Ines Okafor",
        _FERRY,
        1,
    ),
    Article(
        "lakeside-wire",
        "orchard-frost",
        "Late frost threatens apple harvest in Elmsworth",
        "Tomas Reyes",
        (
            "Growers in the Elmsworth valley spent Tuesday night lighting smudge pots after "
            "the temperature fell to minus four degrees, well below what apple blossom survives.",
            "The regional growers' cooperative said it was too early to count the losses but "
            "warned that the early varieties, which had flowered a fortnight ahead of "
            "schedule, were the most exposed.",
            "Several farms used their irrigation sprinklers to coat the blossom in a thin layer "
            "of ice, an old technique that keeps the flowers at freezing point rather than below.",
        ),
        6,
    ),
    Article(
        "valley-courier",
        "library-reopens",
        "Valley library reopens after two-year restoration",
        "Greta Lindqvist",
        (
            "The Ashbourne public library reopened its doors on Saturday after a restoration "
            "that replaced the leaking copper roof and rebuilt the reading room's oak galleries.",
            "Volunteers catalogued more than forty thousand volumes during the closure, and the "
            "library now lends telescopes, sewing machines and seed packets as well as books.",
            "The head librarian said visitor numbers on the first weekend were the highest since "
            "records began in the nineteen-fifties.",
        ),
        8,
    ),
    Article(
        "valley-courier",
        "cycling-lanes-vote",
        "Council approves protected cycle lanes on Mill Road",
        "Arjun Mehta",
        (
            "After a three-hour debate, the Ashbourne council voted seven to four in favour of "
            "protected cycle lanes along the length of Mill Road, removing ninety parking spaces.",
            "Shopkeepers on the road had petitioned against the plan, arguing that delivery vans "
            "would have nowhere to stop; the final design adds four loading bays.",
            "Construction is due to start in the spring and to take about five months.",
        ),
        12,
    ),
    Article(
        "northern-ledger",
        "observatory-comet",
        "Amateur astronomers spot new comet from Harrow Hill",
        "Sofia Brandt",
        (
            "Two members of the Harrow Hill astronomy club have been credited with the discovery "
            "of a faint comet, the first found from the county in more than a century.",
            "The pair noticed the fuzzy object on images taken with a secondhand telescope and "
            "confirmed its motion over three nights before reporting it to the minor planet "
            "centre.",
            "The comet will not be visible to the naked eye, but the club is holding open "
            "evenings for anyone who wants to look through its instruments.",
        ),
        20,
    ),
    Article(
        "northern-ledger",
        "bakery-cooperative",
        "Bakers form cooperative to share a wood-fired oven",
        "Hamid Rostami",
        (
            "Five small bakeries in the old mill district have formed a cooperative to share "
            "the running costs of a large wood-fired oven in a converted granary.",
            "Each baker books the oven in four-hour slots, and the cooperative buys its flour "
            "together from a mill fifteen kilometres upriver.",
            "The bakers say the arrangement has let them lower the price of a sourdough loaf "
            "while paying their apprentices above the regional wage.",
        ),
        30,
    ),
)

# Paths of the articles that are copies of another article's story.
SYNDICATED = frozenset(
    {
        "/valley-courier/articles/ferries-go-electric-wire.html",
        "/northern-ledger/articles/harbour-ferries-battery.html",
    }
)


def demo_now() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
