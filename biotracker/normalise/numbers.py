"""Numbers as reports write them: "1,234", "1 234", "1.234" (Spanish/Portuguese/French
thousands), "2.5 million", "twenty-three", "one hundred and five", "vingt-deux",
"quatre-vingt-dix", "treinta y dos", "trinta e duas". Used by the case and death counters.

English words and French/Spanish/Portuguese ("Romance") words are separate alphabets:
"once" is eleven in Spanish and an ordinary word in English, so each language's counting
patterns only accept its own number words (``NUMBER`` and ``ROMANCE_NUMBER``).
"""

from __future__ import annotations

import re

_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}

#: French, Spanish and Portuguese words with an additive value (units, tens, whole hundreds).
_ROMANCE_VALUES = {
    # French
    "zéro": 0,
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "six": 6,
    "sept": 7,
    "huit": 8,
    "neuf": 9,
    "dix": 10,
    "onze": 11,
    "douze": 12,
    "treize": 13,
    "quatorze": 14,
    "quinze": 15,
    "seize": 16,
    "vingt": 20,
    "trente": 30,
    "quarante": 40,
    "cinquante": 50,
    "soixante": 60,
    "quatre-vingt": 80,
    "quatre-vingts": 80,
    # Spanish
    "cero": 0,
    "uno": 1,
    "una": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "once": 11,
    "doce": 12,
    "trece": 13,
    "catorce": 14,
    "quince": 15,
    "dieciséis": 16,
    "diecisiete": 17,
    "dieciocho": 18,
    "diecinueve": 19,
    "veinte": 20,
    "veintiuno": 21,
    "veintiún": 21,
    "veintiuna": 21,
    "veintidós": 22,
    "veintitrés": 23,
    "veinticuatro": 24,
    "veinticinco": 25,
    "veintiséis": 26,
    "veintisiete": 27,
    "veintiocho": 28,
    "veintinueve": 29,
    "treinta": 30,
    "cuarenta": 40,
    "cincuenta": 50,
    "sesenta": 60,
    "setenta": 70,
    "ochenta": 80,
    "noventa": 90,
    "doscientos": 200,
    "doscientas": 200,
    "trescientos": 300,
    "trescientas": 300,
    "cuatrocientos": 400,
    "cuatrocientas": 400,
    "quinientos": 500,
    "quinientas": 500,
    "seiscientos": 600,
    "seiscientas": 600,
    "setecientos": 700,
    "setecientas": 700,
    "ochocientos": 800,
    "ochocientas": 800,
    "novecientos": 900,
    "novecientas": 900,
    # Portuguese
    "um": 1,
    "uma": 1,
    "dois": 2,
    "duas": 2,
    "três": 3,
    "quatro": 4,
    "sete": 7,
    "oito": 8,
    "nove": 9,
    "dez": 10,
    "doze": 12,
    "treze": 13,
    "catorze": 14,
    "dezesseis": 16,
    "dezasseis": 16,
    "dezessete": 17,
    "dezassete": 17,
    "dezoito": 18,
    "dezenove": 19,
    "dezanove": 19,
    "vinte": 20,
    "trinta": 30,
    "quarenta": 40,
    "cinquenta": 50,
    "sessenta": 60,
    "oitenta": 80,
    "duzentos": 200,
    "duzentas": 200,
    "trezentos": 300,
    "trezentas": 300,
    "quatrocentos": 400,
    "quatrocentas": 400,
    "quinhentos": 500,
    "quinhentas": 500,
    "seiscentos": 600,
    "seiscentas": 600,
    "setecentos": 700,
    "setecentas": 700,
    "oitocentos": 800,
    "oitocentas": 800,
    "novecentos": 900,
    "novecentas": 900,
}
#: Words that multiply what came before them by 100 ("deux cents", "ciento veinte", "cento e dez").
_ROMANCE_HUNDREDS = {"cent", "cents", "cien", "ciento", "cem", "cento"}
_ROMANCE_SCALES = {
    "mille": 1_000,
    "mil": 1_000,
    "million": 1_000_000,
    "millions": 1_000_000,
    "millón": 1_000_000,
    "millones": 1_000_000,
    "milhão": 1_000_000,
    "milhões": 1_000_000,
}
#: Joining words inside a number: "vingt et un", "treinta y dos", "trinta e dois".
_ROMANCE_JOINERS = {"et", "y", "e"}

_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
_ROMANCE_WORDS = sorted([*_ROMANCE_VALUES, *_ROMANCE_HUNDREDS, *_ROMANCE_SCALES], key=len, reverse=True)
_ROMANCE_WORD = "|".join(re.escape(w) for w in _ROMANCE_WORDS)

#: Digits: thousands groups ("1,234", "1 234", "1.234"), or a plain/decimal number with an
#: optional scale word ("2.5 million"). A dotted group of exactly three digits is thousands:
#: counts are whole numbers, so "3.245 personas" is 3245 and never 3.245.
_DIGITS = (
    r"\d+\.\d+\s(?:million|thousand)|\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+(?!\d)|"
    r"\d+(?:\.\d+)?(?:\s(?:million|thousand))?"
)
#: A number in digits or in English words.
NUMBER = rf"(?:{_DIGITS}|(?:(?:{_WORD})(?:[\s-]+(?:and[\s-]+)?(?:{_WORD}))*))"
#: A number in digits or in French/Spanish/Portuguese words.
ROMANCE_NUMBER = (
    rf"(?:{_DIGITS}|(?:(?:{_ROMANCE_WORD})(?:(?:[\s-]+(?:(?:et|y|e)[\s-]+)?)"
    rf"(?:{_ROMANCE_WORD}))*))(?![\w-])"
)
_NUMBER_AT = re.compile(NUMBER, re.IGNORECASE)
_ROMANCE_NUMBER_AT = re.compile(ROMANCE_NUMBER, re.IGNORECASE)


def _parse_digits(t: str) -> int | None:
    m = re.fullmatch(r"(\d+\.\d+)\s(million|thousand)", t)
    if m:
        return round(float(m.group(1)) * _SCALES[m.group(2)])
    if re.fullmatch(r"\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+", t):
        return int(re.sub(r"\D", "", t))
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(million|thousand)?", t)
    if m:
        return round(float(m.group(1)) * (_SCALES[m.group(2)] if m.group(2) else 1))
    return None


def _parse_english_words(words: list[str]) -> int | None:
    total = current = 0
    for word in words:
        if word == "and":
            continue
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in ("thousand", "million"):
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
    return total + current


def _parse_romance_words(words: list[str]) -> int | None:
    total = current = 0
    for word in words:
        if word in _ROMANCE_JOINERS:
            continue
        if word in _ROMANCE_VALUES:
            current += _ROMANCE_VALUES[word]
        elif word in _ROMANCE_HUNDREDS:
            current = max(current, 1) * 100
        elif word in _ROMANCE_SCALES:
            total += max(current, 1) * _ROMANCE_SCALES[word]
            current = 0
        else:
            return None
    return total + current


def parse_number(text: str) -> int | None:
    """Integer value of a NUMBER or ROMANCE_NUMBER match, or None if it is not a number."""
    t = " ".join(text.strip().lower().split())
    if not t:
        return None
    if t[0].isdigit():
        return _parse_digits(t)
    # "quatre-vingt(s)" is one value (80), not 4 + 20: keep it whole before splitting on hyphens.
    t = re.sub(r"quatre-vingts?", "quatre-vingt", t)
    words = [w for w in re.split(r"[\s]+|-(?!vingt\b)", t) if w]
    value = _parse_english_words(words)
    return value if value is not None else _parse_romance_words(words)


_DIGIT_START = re.compile(r"(?<![\w.,])\d")
NUMBER_WORDS = tuple(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
ROMANCE_NUMBER_WORDS = tuple(_ROMANCE_WORDS)


def find_words(lowered: str, words: tuple[str, ...]) -> list[int]:
    """Start offsets of whole-word occurrences of ``words`` in already lower-cased text.

    ``str.find`` per word runs in C and beats a regex alternation of words by an order of
    magnitude on long texts; it is how the counters and date finder locate their anchors.
    """
    out: list[int] = []
    n = len(lowered)
    for w in words:
        i = lowered.find(w)
        while i != -1:
            end = i + len(w)
            if (i == 0 or not lowered[i - 1].isalnum()) and (end >= n or not lowered[end].isalnum()):
                out.append(i)
            i = lowered.find(w, end)
    return out


def number_starts(text: str, lowered: str | None = None, *, romance: bool = False) -> list[int]:
    """Offsets where a number may start, in order: digits, and English number words (or, with
    ``romance``, French/Spanish/Portuguese ones)."""
    lowered = text.lower() if lowered is None else lowered
    words, pattern = (ROMANCE_NUMBER_WORDS, _ROMANCE_NUMBER_AT) if romance else (NUMBER_WORDS, _NUMBER_AT)
    candidates = sorted({m.start() for m in _DIGIT_START.finditer(text)} | set(find_words(lowered, words)))
    out: list[int] = []
    covered = -1
    for pos in candidates:
        if pos < covered:
            continue  # inside "3 000" or "twenty-three": part of the number already found
        m = pattern.match(text, pos)
        if m:
            out.append(pos)
            covered = m.end()
    return out
