"""Base article text for the dedup benchmark: real bodies and composed ones.

Real bodies come from the ScrapingHub benchmark's ground truth, read from
``shared/datasets`` at run time (MIT-licensed evaluation data; no copy of it
lives in this repository). Composed articles come from a small grammar: one
*event* (people, places, figures, quotes) is reported by several outlets,
each writing its own sentences, so articles on one topic share names, numbers
and the odd quote but not their wording, as independent reports do.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["TEMPLATES", "TOPICS", "Event", "compose", "make_event", "real_bodies", "templated"]

GROUND_TRUTH = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "datasets"
    / "extraction"
    / "scrapinghub"
    / "ground-truth.json"
)


def real_bodies(path: Path = GROUND_TRUTH, min_words: int = 80) -> list[list[str]]:
    """Article bodies as lists of paragraphs (bodies under ``min_words`` skipped)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    bodies = []
    for entry in data.values():
        paragraphs = [p.strip() for p in entry["articleBody"].split("\n") if p.strip()]
        if sum(len(p.split()) for p in paragraphs) >= min_words:
            bodies.append(paragraphs)
    return bodies


# --- the grammar ---------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


# "[a|b|c]" picks one alternative (nesting allowed), "{slot}" fills in a fact.

FIRST = _words(
    "Maria James Ahmed Li Sofia Daniel Priya Olga Kwame Elena Tomas Aisha Mark Yuki Carlos "
    "Fatima Peter Ingrid Samuel Nadia Rafael Chen Laura Omar Helen Viktor Amara Jonas Rosa "
    "Hassan Claire Diego Mei Anders Grace Ibrahim Lucia Paul Zainab Erik"
)
LAST = _words(
    "Okafor Schmidt Rossi Tanaka Novak Haddad Fernandes Lindqvist Mensah Kowalski Dubois "
    "Moreno Petrov Nakamura Osei Jensen Alvarez Khan Murphy Weber Costa Ivanova Park Silva "
    "Becker Nyberg Santos Ward Hughes Banerjee Keller Duarte Ruiz Lambert Varga Sato Hale "
    "Mbeki Larsen Quinn"
)
CITIES = _words(
    "Lisbon Nairobi Osaka Lyon Krakow Accra Porto Seville Leeds Graz Tampere Cebu Recife "
    "Dakar Bergen Utrecht Antwerp Gdansk Malmo Bilbao Turin Izmir Pune Perth Calgary Austin "
    "Denver Tucson Halifax Hobart Durban Fez Quito Cusco Lagos Mombasa Kochi Surabaya Busan Riga"
)
REGIONS = [
    "the northern province",
    "the coastal region",
    "the capital region",
    "the southern highlands",
    "the eastern district",
    "the river valley",
    "the western plains",
    "the island chain",
]
WEEKDAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")
MONTHS = _words(
    "January February March April May June July August September October November December"
)

GENERIC = [
    "[Officials|Authorities|Local leaders] [said|stressed|noted] that [the situation|events] "
    "in {city} [remained fluid|were still developing|could change quickly] and [urged|asked] "
    "[residents|people|the public] to [stay informed|follow official guidance|remain calm].",
    "[The|This] [development|announcement|decision] [comes|arrives] [after|amid|weeks after] "
    "[months of|a period of|growing] [uncertainty|debate|pressure] [over|about] {issue}.",
    "[Critics|Opponents|Some analysts] [argued|said|warned] that {issue} [had been|was] "
    "[neglected|underestimated|mishandled] for [years|too long|decades].",
    "[In a statement|In a written statement|Speaking to reporters], {person_a}, {role_a}, "
    "[said|noted|added] that [more work was needed|the priority was safety|lessons would be "
    "learned|the response had been swift].",
    "[It was not immediately clear|It remained unclear|It was not known] [how|when|whether] "
    "[the matter|the dispute|the process] would be [resolved|settled|concluded].",
    "[Residents|Witnesses|Several people] [interviewed by|who spoke to] [reporters|local media|"
    "this newspaper] described [scenes of|a mood of|a sense of] [confusion|relief|anger|"
    "disbelief] in {city}.",
    "{person_b}, [a|an] {role_b}, [said|told reporters|said in an interview] that "
    "[the outcome|the episode|the decision] [would|could|might] [shape|influence|affect] "
    "[policy|planning|debate] for [years to come|the rest of the year|some time].",
    "[The figures|The numbers|The data] [published|released|made public] on {weekday} "
    "[showed|suggested|indicated] [a sharp|a modest|a steady] [rise|increase|change] "
    "[compared with|relative to|over] [last year|the previous month|a year earlier].",
    "[Further|More|Additional] [details|information|updates] [are expected|will be released|"
    "should follow] [later this week|in the coming days|on {weekday}].",
    "[Local|Regional|National] [media|broadcasters|newspapers] [reported|said] that "
    "[talks|discussions|meetings] [continued|went on|resumed] [late into the night|through "
    "the weekend|on {weekday} morning].",
    "[According to|Citing] [people familiar with the matter|a person with knowledge of the "
    "talks|two officials], [no final decision|no agreement|nothing] had been [reached|made|"
    "settled] [yet|so far|by {weekday}].",
    "The [issue|question|matter] of {issue} has [divided|split|preoccupied] [politicians|"
    "experts|the public] in {region} [for years|since at least {year}|for much of the "
    "past decade].",
]

TOPICS: dict[str, dict[str, Sequence[str]]] = {
    "rates": {
        "issue": ["inflation", "borrowing costs", "the housing market", "wage growth"],
        "role": [
            "governor of the central bank",
            "chief economist at a large bank",
            "member of the monetary policy committee",
            "finance minister",
        ],
        "org": ["the central bank", "the treasury", "the statistics office"],
        "lead": [
            "{org_cap} [raised|lifted|increased] its [main|benchmark|key] interest rate by "
            "{small} percentage points to {pct} percent on {weekday}, [its|marking its] "
            "[first|second|third] [move|increase] this year.",
            "[Borrowing costs|Interest rates] [rose|went up|climbed] on {weekday} after "
            "{org} [decided|voted|opted] to [raise|lift] rates to {pct} percent.",
        ],
        "body": [
            "Inflation [stood at|reached|came in at] {pct2} percent in {month}, [well above|"
            "above|far from] the [target|goal|objective] of {target} percent.",
            "[Mortgage holders|Homeowners|Borrowers] [face|will see|could face] [higher|"
            "larger|bigger] [monthly payments|repayments|bills] as a result.",
            "[Markets|Investors|Traders] had [largely|widely|mostly] [expected|priced in|"
            "anticipated] the [move|decision|increase].",
            "The [currency|exchange rate] [strengthened|firmed|edged up] {small} percent "
            "[after|following] the [announcement|decision].",
            "{person_a} [said|told a news conference] the [committee|bank] [would|will] "
            "[act|do] [whatever|what] [is|was] [needed|necessary] to bring prices under control.",
        ],
    },
    "storm": {
        "issue": ["flood defences", "emergency planning", "coastal erosion", "storm warnings"],
        "role": [
            "head of the civil protection agency",
            "regional governor",
            "meteorologist",
            "mayor of {city}",
        ],
        "org": ["the weather service", "the civil protection agency", "the coast guard"],
        "lead": [
            "[A powerful|A violent|A fierce] storm [battered|lashed|swept across] {region} on "
            "{weekday}, [killing|leaving] at least {count} people [dead|] and [cutting power "
            "to|leaving without power] {thousands} homes.",
            "[Heavy rain|Torrential rain|Strong winds and rain] [caused|brought|triggered] "
            "[flooding|floods|landslides] in {city} on {weekday}, [forcing|prompting] the "
            "evacuation of {thousands} residents.",
        ],
        "body": [
            "Wind gusts of up to {speed} kilometres per hour were [recorded|measured|reported] "
            "[along the coast|in exposed areas|near {city}].",
            "[Rescue teams|Emergency crews|Firefighters] [worked|were working] [through the "
            "night|around the clock] to [reach|free|help] [stranded|trapped|isolated] "
            "[residents|families|drivers].",
            "{org_cap} [issued|kept|extended] [a red|an amber|its highest] warning for "
            "{region} [until|through] {weekday}.",
            "[Schools|Several roads|Rail services] [were closed|remained shut|were suspended] "
            "[across|in parts of] {region}.",
            "[About|Nearly|More than] {count2} millimetres of rain fell in [24|48|12] hours, "
            "[according to|said] {org}.",
        ],
    },
    "football": {
        "issue": ["ticket prices", "the club's finances", "stadium safety", "youth football"],
        "role": ["head coach", "club captain", "sporting director", "former international"],
        "org": ["{city} United", "Real {city}", "{city} City"],
        "lead": [
            "{org_cap} [beat|defeated|overcame] [their rivals|the league leaders|the visitors] "
            "{score} on {weekday} [to move|moving|and climbed] [top of the table|into the "
            "top four|clear of the relegation zone].",
            "[A late goal from|A stoppage-time strike by|Two goals from] {person_a} [gave|"
            "earned|handed] {org} a {score} [win|victory] on {weekday}.",
        ],
        "body": [
            "{person_b} [opened the scoring|put the hosts ahead|struck first] in the {minute}th "
            "minute [with a header|from close range|with a low shot].",
            "[The visitors|Their opponents|The away side] [hit the post|had a goal ruled out|"
            "missed a penalty] [before half-time|early in the second half|late on].",
            "[The crowd of|A crowd of|In front of] {thousands} [fans|supporters|spectators] "
            "[saw|watched|cheered] [a tense|an open|a scrappy] [game|match|contest].",
            "{person_a}, the {role_a}, said [the team|his side|the players] [had shown|showed] "
            "[character|great spirit|real quality] [after a difficult week|all season].",
            "The [result|win|victory] [leaves|puts|takes] {org} on {count} points from "
            "{count2} games.",
        ],
    },
    "earnings": {
        "issue": ["cost cutting", "supply chain problems", "consumer demand", "job cuts"],
        "role": [
            "chief executive",
            "chief financial officer",
            "analyst at a brokerage",
            "company spokesperson",
        ],
        "org": ["{last} Industries", "{last} Group", "{last} Holdings"],
        "lead": [
            "{org_cap} [reported|posted|announced] a {pct} percent [rise|jump|increase] in "
            "[quarterly|third-quarter|second-quarter] profit on {weekday}, [beating|topping|"
            "ahead of] [analysts' forecasts|market expectations].",
            "[Shares in|Shares of] {org} [rose|jumped|climbed] {pct2} percent on {weekday} "
            "after the company [reported|posted] [better-than-expected|strong|record] "
            "[results|earnings].",
        ],
        "body": [
            "Revenue [rose|grew|increased] to {money} billion [dollars|euros] [in the "
            "quarter|over the period|in the three months to {month}].",
            "The company [said|expects|forecast] [full-year|annual] [sales|earnings|profit] "
            "[to grow|to rise|would increase] by [about|around|roughly] {pct} percent.",
            "{person_a}, the {role_a}, [said|told analysts] [demand|orders|bookings] had "
            "[held up|remained strong|recovered] [in|across] [Europe|Asia|North America].",
            "The [group|company|firm] [plans to|will|intends to] [cut|shed|eliminate] "
            "{thousands} jobs [as part of|under] [a restructuring|a savings plan|a cost "
            "programme].",
            "[Operating margin|Gross margin] [improved|widened|rose] to {pct2} percent from "
            "{small} percent a year earlier.",
        ],
    },
    "court": {
        "issue": ["judicial independence", "prison overcrowding", "sentencing rules", "legal aid"],
        "role": ["defence lawyer", "prosecutor", "law professor", "justice minister"],
        "org": ["the supreme court", "the appeals court", "the district court"],
        "lead": [
            "[A court in|Judges in|The court in] {city} [sentenced|jailed|convicted] "
            "{person_a} to {count} years in prison on {weekday} for [fraud|bribery|money "
            "laundering|tax evasion].",
            "{org_cap} [ruled|decided|found] on {weekday} that [the law|the measure|the "
            "policy] [was unconstitutional|breached the constitution|could not stand].",
        ],
        "body": [
            "[Prosecutors|The prosecution] [had sought|had asked for|wanted] a sentence of "
            "{count2} years.",
            "{person_b}, [the|a] {role_b}, said [her client|the defence|they] would "
            "[appeal|challenge the ruling|consider an appeal].",
            "The [case|trial|hearing] [lasted|ran for|went on for] {count} [weeks|months] "
            "and [heard from|included testimony from] {count2} witnesses.",
            "The [judge|panel|court] [said|found|noted] that the [evidence|testimony|documents] "
            "[showed|proved|established] [a pattern of|deliberate|systematic] [deception|"
            "wrongdoing|abuse].",
            "[About|Some|Around] {count3} [supporters|protesters|relatives] [gathered|waited|"
            "stood] outside the [courthouse|building] in {city}.",
        ],
    },
    "wildfire": {
        "issue": ["forest management", "drought", "firefighting budgets", "building in fire zones"],
        "role": ["fire chief", "regional governor", "forestry expert", "mayor of {city}"],
        "org": ["the fire service", "the forestry agency", "the regional government"],
        "lead": [
            "[A wildfire|A fast-moving fire|Several wildfires] [burned|destroyed|scorched] "
            "{thousands} hectares [near|outside|north of] {city} on {weekday}, [forcing|"
            "prompting] [thousands of people|residents of {count} villages] to flee.",
            "[Firefighters|Crews|Hundreds of firefighters] [battled|fought|were battling] "
            "[a blaze|flames|fires] in {region} on {weekday} as [temperatures|the heat] "
            "[reached|topped|climbed to] {temp} degrees Celsius.",
        ],
        "body": [
            "[More than|About|Nearly] {count3} firefighters and {count} [aircraft|water "
            "bombers|helicopters] [were deployed|were sent|took part].",
            "[Strong winds|Gusty winds|Shifting winds] [fanned|spread|pushed] the flames "
            "[towards|close to|into] [homes|villages|a motorway].",
            "{org_cap} said the fire was [contained|under control|still spreading] by "
            "{weekday} [evening|night|afternoon].",
            "[The cause|The origin] of the fire [was not known|was being investigated|"
            "remained unclear], [officials said|police said|according to {org}].",
            "[Smoke|Ash|Haze] [drifted|spread|was visible] [over|across] {city}, [and|where] "
            "[residents|people] were [told|advised|urged] to [stay indoors|keep windows closed].",
        ],
    },
    "strike": {
        "issue": ["pay", "working conditions", "pension reform", "staff shortages"],
        "role": [
            "union leader",
            "transport minister",
            "labour economist",
            "spokesperson for the employers",
        ],
        "org": ["the rail union", "the teachers' union", "the nurses' union"],
        "lead": [
            "[Thousands of|Tens of thousands of] [workers|rail staff|teachers|nurses] "
            "[walked out|went on strike|stopped work] on {weekday} [in a dispute over|over|"
            "demanding] [pay|wages|pensions].",
            "[Train services|Schools|Hospitals] across {region} [were disrupted|faced "
            "disruption|were hit] on {weekday} as {org} [began|staged|held] a {count}-day "
            "strike.",
        ],
        "body": [
            "{org_cap} [is demanding|wants|is seeking] a pay rise of {pct} percent, "
            "[while|but] [employers|the government] [have offered|offered] {small} percent.",
            "{person_a}, the {role_a}, said [members|workers|staff] had been [left with no "
            "choice|pushed too far|ignored for too long].",
            "[Talks|Negotiations] [broke down|collapsed|stalled] on {weekday} [after|when] "
            "[neither side|the two sides] [would|could] [budge|agree|compromise].",
            "[Only|Just|Fewer than] {count} in 10 [trains|services|classes] [ran|operated|"
            "went ahead], [according to|said] [operators|officials].",
            "[Commuters|Parents|Patients] [faced|endured|reported] [long delays|"
            "cancellations|closures] [in|across] {city}.",
        ],
    },
    "launch": {
        "issue": [
            "space debris",
            "the cost of space programmes",
            "satellite internet",
            "lunar exploration",
        ],
        "role": ["mission director", "space agency chief", "astrophysicist", "project scientist"],
        "org": ["the space agency", "{last} Aerospace", "the launch company"],
        "lead": [
            "[A rocket|The rocket|A heavy-lift rocket] [carrying|with] {count} satellites "
            "[lifted off|blasted off|launched] from {city} on {weekday}, {org} said.",
            "{org_cap} [successfully launched|sent|put] [a probe|a new satellite|an "
            "observatory] into orbit on {weekday} [after|following] {count} delays.",
        ],
        "body": [
            "The [mission|probe|spacecraft] [is expected|is due|is set] to [reach|arrive at] "
            "its [orbit|destination] in {count2} [days|weeks|months].",
            "[Engineers|Controllers|The team] [confirmed|reported] that [all|the] [systems|"
            "solar panels|instruments] were [working normally|deployed|functioning].",
            "The [launch|mission] [cost|is worth] [about|an estimated] {money} billion "
            "[dollars|euros].",
            "{person_a}, the {role_a}, [called|described] the launch [a milestone|historic|"
            "a huge success] for [the programme|the country|science].",
            "[Crowds|Hundreds of spectators|Onlookers] [gathered|watched] [near|outside] "
            "the launch site [despite|in] [the early hour|the rain|the cold].",
        ],
    },
}

# Each story is the same text every day with new figures: market closes,
# forecasts, results. Instances differ only in their numbers.
TEMPLATES: list[str] = [
    "The FTSE 100 index closed up {p1} percent at {lvl1} points on Tuesday, as mining and "
    "energy shares led gains across the board.\n\n"
    "The FTSE 250 index of mid-sized companies rose {p2} percent to {lvl2}, while the pound "
    "traded at {fx1} dollars and {fx2} euros.\n\n"
    "Shares in the largest miners gained between {p3} and {p4} percent after copper prices "
    "rose to {px1} dollars a tonne on the London Metal Exchange.\n\n"
    "Brent crude futures were up {p5} percent at {px2} dollars a barrel by the close, and "
    "the yield on the benchmark 10-year government bond fell to {p6} percent.\n\n"
    "In Europe, the STOXX 600 index ended {p7} percent higher, and Wall Street opened "
    "with the S&P 500 up {p8} percent.",
    "Forecasters expect a high of {t1} degrees and a low of {t2} degrees in the city on "
    "Wednesday, with a {p1} percent chance of rain in the afternoon.\n\n"
    "Winds will blow from the west at {s1} to {s2} kilometres per hour, easing to {s3} "
    "kilometres per hour overnight.\n\n"
    "Thursday will be slightly warmer, with a high of {t3} degrees, a low of {t4} degrees "
    "and humidity around {p2} percent.\n\n"
    "The pollen count is expected to be high, and the UV index will reach {u1} at midday. "
    "Sunrise is at {h1}:{m1} and sunset at {h2}:{m2}.",
    "The winning numbers in Saturday's national lottery draw were {n1}, {n2}, {n3}, {n4}, "
    "{n5} and {n6}, with the bonus ball {n7}.\n\n"
    "No ticket matched all six numbers, so the jackpot of {j1} million rolls over to the "
    "next draw, when it is expected to reach {j2} million.\n\n"
    "{w1} tickets matched five numbers and the bonus ball, winning {j3} thousand each, "
    "and {w2} tickets matched five numbers.\n\n"
    "Players have {d1} days to claim their prizes, the lottery operator said in a "
    "statement.",
    "The number of people out of work fell by {k1} thousand in the three months to March, "
    "taking the unemployment rate to {p1} percent, the statistics office said on "
    "Tuesday.\n\n"
    "Economists polled beforehand had expected a rate of {p2} percent.\n\n"
    "Average weekly earnings, including bonuses, rose {p3} percent compared with a year "
    "earlier, while regular pay excluding bonuses grew {p4} percent.\n\n"
    "Adjusted for inflation, regular pay rose {p5} percent. The number of job vacancies "
    "fell by {k2} thousand to {k3} thousand, the {n1}th consecutive quarterly decline.\n\n"
    "The employment rate for people aged 16 to 64 was {p6} percent, up {p7} percentage "
    "points on the quarter.",
    "Air quality in the capital was rated poor on Monday, with the index reaching {a1} at "
    "the central monitoring station by {h1} a.m.\n\n"
    "Concentrations of fine particles stood at {a2} micrograms per cubic metre, {x1} times "
    "the guideline value of 15 set by the World Health Organization.\n\n"
    "Readings were worst in the eastern districts, where the index peaked at {a3}, and "
    "best near the river, at {a4}.\n\n"
    "Authorities advised children, older people and those with respiratory conditions to "
    "limit outdoor activity until at least {h2} p.m., when winds of {s1} kilometres per "
    "hour are expected to disperse the smog.",
    "Gold rose {p1} percent to {px1} dollars an ounce on Friday, heading for a weekly "
    "gain of {p2} percent as the dollar weakened.\n\n"
    "Silver gained {p3} percent to {px2} dollars an ounce, platinum added {p4} percent to "
    "{px3} dollars and palladium climbed {p5} percent to {px4} dollars.\n\n"
    "Holdings of the largest gold-backed exchange-traded fund rose {p6} percent to {k1} "
    "tonnes on Thursday, data from the fund showed.\n\n"
    "Traders are pricing in a {p7} percent chance of a rate cut at the next policy "
    "meeting, according to futures markets.",
    "Police recorded {k1} road deaths in the region last month, {k2} more than in the "
    "same month a year earlier, according to figures published on Thursday.\n\n"
    "Of those killed, {k3} were pedestrians, {k4} were cyclists and {k5} were "
    "motorcyclists, while {k6} people were seriously injured.\n\n"
    "Speed was a factor in {p1} percent of fatal collisions, and alcohol in {p2} percent, "
    "the report found.\n\n"
    "Over the past 12 months, {k7} people have died on the region's roads, a rise of {p3} "
    "percent, despite a campaign launched two years ago to halve the number by 2030.",
    "Home prices rose {p1} percent in April from the previous month, taking the annual "
    "rate of growth to {p2} percent, the mortgage lender said on Wednesday.\n\n"
    "The average price of a home reached {k1} thousand, {k2} thousand more than a year "
    "ago.\n\n"
    "Prices rose fastest in the north, up {p3} percent over the year, and slowest in the "
    "capital, where they increased by {p4} percent.\n\n"
    "Mortgage approvals fell to {k3} thousand, from {k4} thousand in March, as the average "
    "rate on a two-year fixed mortgage rose to {p5} percent.",
]


@dataclass
class Event:
    """Facts shared by every independent report of one event."""

    topic: str
    facts: dict[str, str]
    quotes: list[str] = field(default_factory=list)


def _pick(rng: random.Random, options: Sequence[str]) -> str:
    return options[rng.randrange(len(options))]


def _name(rng: random.Random) -> str:
    return f"{_pick(rng, FIRST)} {_pick(rng, LAST)}"


def make_event(rng: random.Random, topic: str) -> Event:
    """An event of ``topic`` with its own people, places, figures and quotes."""
    spec = TOPICS[topic]
    city = _pick(rng, CITIES)
    facts = {
        "city": city,
        "region": _pick(rng, REGIONS),
        "weekday": _pick(rng, WEEKDAYS),
        "month": _pick(rng, MONTHS),
        "year": str(rng.randint(1995, 2020)),
        "last": _pick(rng, LAST),
        "person_a": _name(rng),
        "person_b": _name(rng),
        "issue": _pick(rng, spec["issue"]),
        "pct": f"{rng.randint(1, 9)}.{rng.randint(0, 9)}",
        "pct2": f"{rng.randint(2, 14)}.{rng.randint(0, 9)}",
        "small": f"0.{rng.randint(1, 9)}",
        "target": str(rng.randint(2, 3)),
        "count": str(rng.randint(2, 19)),
        "count2": str(rng.randint(20, 90)),
        "count3": str(rng.randint(100, 900)),
        "thousands": f"{rng.randint(2, 95)},{rng.randint(100, 999)}",
        "speed": str(rng.randint(90, 180)),
        "temp": str(rng.randint(36, 46)),
        "minute": str(rng.randint(5, 89)),
        "score": f"{rng.randint(1, 4)}-{rng.randint(0, 3)}",
        "money": f"{rng.randint(1, 40)}.{rng.randint(1, 9)}",
    }
    facts["role_a"] = _fill(rng, _pick(rng, spec["role"]), facts)
    facts["role_b"] = _fill(rng, _pick(rng, spec["role"]), facts)
    facts["org"] = _fill(rng, _pick(rng, spec["org"]), facts)
    facts["org_cap"] = facts["org"][0].upper() + facts["org"][1:]
    event = Event(topic, facts)
    event.quotes = [_quote(rng, event) for _ in range(3)]
    return event


_QUOTES = [
    '"[We|I] [will not|cannot|do not intend to] [accept|ignore|tolerate] {thing}," '
    '{who} said. "[This is|It is] [a matter of|about] [trust|fairness|safety] for '
    '[everyone|every family|the whole country]."',
    '"[Nobody|No one] [expected|could have predicted|saw] [this|what happened] '
    '[on {weekday}|this week|so soon]," {who} [said|told reporters|added].',
    '"[Our priority|The priority|What matters now] is [to|that we] [help|support|protect] '
    '[the people of {city}|those affected|our members]," {who} said.',
]
_THINGS = [
    "this outcome",
    "these delays",
    "another year of this",
    "half measures",
    "the status quo",
]


def _quote(rng: random.Random, event: Event) -> str:
    who = _pick(rng, [event.facts["person_a"], event.facts["person_b"]])
    facts = {**event.facts, "who": who, "thing": _pick(rng, _THINGS)}
    return _fill(rng, _pick(rng, _QUOTES), facts)


_ALTERNATIVE = re.compile(r"\[([^\[\]]*)\]")


def _fill(rng: random.Random, pattern: str, facts: dict[str, str]) -> str:
    """Expand ``[a|b]`` choices (innermost first), then ``{slot}`` facts."""
    text = pattern
    while "[" in text:
        text = _ALTERNATIVE.sub(lambda m: _pick(rng, m.group(1).split("|")), text)
    text = text.format_map(facts)
    return re.sub(r"\s+([,.])", r"\1", re.sub(r" {2,}", " ", text)).strip()


def compose(rng: random.Random, event: Event, *, quotes: int) -> list[str]:
    """One outlet's article on ``event``: its own sentences, ``quotes`` of the
    event's quotes verbatim; a list of paragraphs."""
    spec = TOPICS[event.topic]
    lead = _fill(rng, _pick(rng, spec["lead"]), event.facts)
    pool = [*spec["body"], *GENERIC]
    rng.shuffle(pool)
    sentences = [_fill(rng, pattern, event.facts) for pattern in pool[: rng.randint(9, 16)]]
    for quote in rng.sample(event.quotes, quotes):
        sentences.insert(rng.randint(1, len(sentences)), quote)
    paragraphs = [lead]
    while sentences:
        take = rng.randint(1, 3)
        paragraphs.append(" ".join(sentences[:take]))
        sentences = sentences[take:]
    return paragraphs


_NUMBER_SLOT = re.compile(r"\{(\w+)\}")


def templated(rng: random.Random, template: str) -> list[str]:
    """One instance of a templated story: the template with fresh figures."""
    values: dict[str, str] = {}
    for slot in _NUMBER_SLOT.findall(template):
        values[slot] = _figure(rng, slot)
    return [p for p in template.format_map(values).split("\n\n") if p]


_FIGURES: dict[str, Callable[[random.Random], str]] = {
    "p": lambda r: f"{r.randint(0, 9)}.{r.randint(1, 99):02d}",
    "lvl": lambda r: f"{r.randint(6, 21)},{r.randint(100, 999)}.{r.randint(1, 9)}",
    "fx": lambda r: f"1.{r.randint(1000, 3999)}",
    "px": lambda r: f"{r.randint(20, 9999):,}.{r.randint(10, 99)}",
    "t": lambda r: str(r.randint(-5, 38)),
    "s": lambda r: str(r.randint(5, 60)),
    "u": lambda r: str(r.randint(1, 11)),
    "h": lambda r: str(r.randint(4, 9)),
    "m": lambda r: f"{r.randint(0, 59):02d}",
    "n": lambda r: str(r.randint(1, 59)),
    "j": lambda r: f"{r.randint(1, 30)}.{r.randint(1, 9)}",
    "w": lambda r: str(r.randint(2, 40)),
    "d": lambda r: str(r.choice([90, 180])),
    "k": lambda r: str(r.randint(11, 999)),
    "a": lambda r: str(r.randint(101, 420)),
    "x": lambda r: str(r.randint(3, 12)),
}


def _figure(rng: random.Random, slot: str) -> str:
    return _FIGURES[slot.rstrip("0123456789")](rng)
