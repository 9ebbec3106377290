"""Cell values as people type them in France (and as other tools export them), parsed into
Python values. Every parser takes a cell (text from a CSV, or a native value from XLSX) and
returns the value or raises `ParseError` with a plain reason; empty cells are None.

Amounts: "1.200,50 €", "1 200,50", "1200.50", "-1 200", "(1 200,50)", "1,200.50 USD".
  With both separators, the last one is the decimal mark; a lone comma is a decimal mark; a lone
  dot is a decimal mark unless it repeats ("1.200.000"). Spaces (also non-breaking) and
  apostrophes group thousands.
Dates: "31/12/2024", "31-12-2024", "31.12.2024", "2024-12-31", "2024/12/31", "31/12/24",
  optionally followed by a time ("31/12/2024 14:30", "2024-12-31T14:30:00+01:00").
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from calendar import monthrange
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.utils import timezone


class ParseError(ValueError):
    """A cell that cannot be read; the message is shown to the user as is."""


CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₣": "CHF"}
_CURRENCY_CODE = re.compile(r"\b([A-Z]{3})\b")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']")
MONTHS_FR = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


def is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_amount(value) -> tuple[Decimal, str | None] | None:
    """(amount, currency code found in the cell or None)."""
    if is_empty(value):
        return None
    if isinstance(value, bool):
        raise ParseError(f"{value!r} is not an amount.")
    if isinstance(value, int | Decimal):
        return Decimal(value), None
    if isinstance(value, float):
        return Decimal(repr(value)), None
    raw = str(value).strip()
    currency = None
    cleaned = raw
    for symbol, code in CURRENCY_SYMBOLS.items():
        if symbol in cleaned:
            currency = code
            cleaned = cleaned.replace(symbol, "")
    match = _CURRENCY_CODE.search(cleaned.upper())
    if match:
        currency = match.group(1)
        cleaned = re.sub(match.group(1), "", cleaned, flags=re.IGNORECASE)
    cleaned = _SPACES.sub("", cleaned)
    negative = False
    if cleaned.startswith("(") and cleaned.endswith(")"):
        negative, cleaned = True, cleaned[1:-1]
    if cleaned.startswith("-"):
        negative, cleaned = not negative, cleaned[1:]
    elif cleaned.startswith("+"):
        cleaned = cleaned[1:]
    if not cleaned or not re.fullmatch(r"[0-9.,]+", cleaned) or not re.search(r"\d", cleaned):
        raise ParseError(f"{raw!r} is not an amount.")
    last_dot, last_comma = cleaned.rfind("."), cleaned.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        decimal_mark = "." if last_dot > last_comma else ","
        grouping = "," if decimal_mark == "." else "."
        integer, _, fraction = cleaned.rpartition(decimal_mark)
        if decimal_mark in integer or grouping in fraction:
            raise ParseError(f"{raw!r} is not an amount.")
        integer = integer.replace(grouping, "")
    elif last_comma >= 0:
        if cleaned.count(",") > 1:
            integer, fraction = cleaned.replace(",", ""), ""
        else:
            integer, _, fraction = cleaned.partition(",")
    elif cleaned.count(".") > 1:
        integer, fraction = cleaned.replace(".", ""), ""
    else:
        integer, _, fraction = cleaned.partition(".")
    if not integer and not fraction:
        raise ParseError(f"{raw!r} is not an amount.")
    try:
        amount = Decimal(f"{integer or 0}.{fraction or 0}")
    except InvalidOperation:
        raise ParseError(f"{raw!r} is not an amount.") from None
    # Keep the decimals that were written ("1200.50" -> Decimal("1200.50")).
    amount = amount.quantize(Decimal(1).scaleb(-len(fraction))) if fraction else Decimal(integer)
    return (-amount if negative else amount), currency


def parse_decimal(value) -> Decimal | None:
    parsed = parse_amount(value)
    return None if parsed is None else parsed[0]


def parse_int(value) -> int | None:
    number = parse_decimal(value)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ParseError(f"{text(value)!r} is not a whole number.")
    return int(number)


def parse_percent(value) -> Decimal | None:
    """ "20 %", "20%", "5,5" -> Decimal; the number is taken as written (20 means 20 %)."""
    if is_empty(value):
        return None
    raw = text(value).replace("%", "").strip()
    number = parse_decimal(raw)
    if number is None or not Decimal(0) <= number <= Decimal(100):
        raise ParseError(f"{text(value)!r} is not a percentage between 0 and 100.")
    return number


TRUE_WORDS = {"oui", "o", "yes", "y", "true", "vrai", "1", "x", "done", "fait"}
FALSE_WORDS = {
    "non",
    "n",
    "no",
    "false",
    "faux",
    "0",
    "not done",
    "à faire",
    "a faire",
    "to do",
    "undone",
    "pas fait",
}


def parse_bool(value) -> bool | None:
    if is_empty(value):
        return None
    if isinstance(value, bool):
        return value
    word = text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ParseError(f"{text(value)!r} is not yes or no (oui/non).")


_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?!\d)")
_YMD = re.compile(r"(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})")
_TIME = re.compile(
    r"(?:[T ]+|\s+à\s+)(\d{1,2})[:hH](\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(Z|[+-]\d{2}:?\d{2})?"
)
_MONTH_NAMES = {name: index for index, name in enumerate(MONTHS_FR, 1)}


def _make_date(year: int, month: int, day: int, raw: str) -> dt.date:
    if year < 100:
        year += 2000 if year < 70 else 1900
    if not 1 <= month <= 12:
        raise ParseError(f"{raw!r} is not a date: there is no month {month}.")
    days = monthrange(year, month)[1]
    if not 1 <= day <= days:
        month_name = MONTHS_FR[month - 1]
        raise ParseError(f"{raw!r} is not a date: {month_name} {year} has {days} days.")
    return dt.date(year, month, day)


def _split(value) -> tuple[dt.date, str, str]:
    raw = text(value)
    match = _YMD.match(raw)
    if match:
        date = _make_date(int(match[1]), int(match[2]), int(match[3]), raw)
    else:
        match = _DMY.match(raw)
        if match:
            date = _make_date(int(match[3]), int(match[2]), int(match[1]), raw)
        else:
            words = unicodedata.normalize("NFC", raw.lower()).split()
            if len(words) == 3 and words[1] in _MONTH_NAMES and _is_number(words[0]):
                if not _is_number(words[2]):
                    raise ParseError(f"{raw!r} is not a date.")
                return (
                    _make_date(int(words[2]), _MONTH_NAMES[words[1]], int(words[0]), raw),
                    "",
                    raw,
                )
            raise ParseError(f"{raw!r} is not a date (expected DD/MM/YYYY or YYYY-MM-DD).")
    return date, raw[match.end() :], raw


def parse_date(value) -> dt.date | None:
    if is_empty(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return _parse_date_text(str(value))


@lru_cache(maxsize=4096)
def _parse_date_text(value: str) -> dt.date:
    # Files repeat the same dates: parsing each distinct text once is enough.
    date, rest, raw = _split(value)
    if rest.strip() and not _TIME.fullmatch(rest.rstrip()):
        raise ParseError(f"{raw!r} is not a date.")
    return date


def parse_datetime(value) -> dt.datetime | None:
    """Times without an offset are in the company's time zone (settings.TIME_ZONE)."""
    if is_empty(value):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        return _parse_datetime_text(str(value), timezone.get_default_timezone())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


@lru_cache(maxsize=8192)
def _parse_datetime_text(value: str, zone) -> dt.datetime:
    """Cached per distinct text and time zone: files repeat the same dates."""
    date, rest, raw = _split(value)
    rest = rest.rstrip()
    moment = dt.datetime.combine(date, dt.time())
    if rest:
        match = _TIME.fullmatch(rest)
        if not match:
            raise ParseError(f"{raw!r} is not a date and time.")
        hour, minute = int(match[1]), int(match[2])
        second = int(match[3] or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ParseError(f"{raw!r} is not a time of day.")
        micro = int((match[4] or "0").ljust(6, "0"))
        moment = moment.replace(hour=hour, minute=minute, second=second, microsecond=micro)
        if match[5]:
            offset = match[5]
            if offset == "Z":
                moment = moment.replace(tzinfo=dt.UTC)
            else:
                offset = offset.replace(":", "")
                sign = -1 if offset[0] == "-" else 1
                delta = dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
                moment = moment.replace(tzinfo=dt.timezone(sign * delta))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, zone)
    return moment


def parse_time(value) -> dt.time | None:
    if is_empty(value):
        return None
    if isinstance(value, dt.time):
        return value
    if isinstance(value, dt.datetime):
        return value.time()
    match = re.fullmatch(r"(\d{1,2})[:hH](\d{2})(?::(\d{2}))?", text(value))
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ParseError(f"{text(value)!r} is not a time (HH:MM).")
    return dt.time(int(match[1]), int(match[2]), int(match[3] or 0))


def parse_duration_minutes(value) -> int | None:
    """ "90", "1:30", "01:30:00" -> minutes."""
    if is_empty(value):
        return None
    raw = text(value)
    match = re.fullmatch(r"(\d{1,3})[:hH](\d{2})(?::(\d{2}))?", raw)
    if match:
        return int(match[1]) * 60 + int(match[2])
    minutes = parse_int(raw)
    if minutes is None or minutes < 0:
        raise ParseError(f"{raw!r} is not a duration.")
    return minutes


# Room for two chunks of rows (ruche.transfer.importers.BATCH) naming an organisation and a
# person each: a chunk's names are normalised when it is prefetched, then again when written.
@lru_cache(maxsize=8192)
def normalise_name(value: str) -> str:
    """For duplicate detection: case, accents, punctuation, legal forms and spacing ignored."""
    plain = _without_marks(unicodedata.normalize("NFKD", value or "")).lower()
    plain = re.sub(r"[^a-z0-9]+", " ", plain.replace(".", ""))
    words = [w for w in plain.split() if w not in LEGAL_FORMS]
    return " ".join(words)


LEGAL_FORMS = {"sa", "sas", "sasu", "sarl", "eurl", "sci", "snc", "scop", "ltd", "inc", "gmbh"}


@lru_cache(maxsize=4096)
def normalise_key(value: str) -> str:
    """For matching headers and list values: case, accents and punctuation ignored."""
    plain = _without_marks(unicodedata.normalize("NFKD", value or "")).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


# The combining marks that decomposed Latin letters leave (é -> e + U+0301).
_LATIN_MARKS = re.compile(
    "[" + "".join(chr(c) for c in range(0x300, 0x370) if unicodedata.combining(chr(c))) + "]"
)


def _without_marks(decomposed: str) -> str:
    """`decomposed` without its combining marks: a regular expression removes the common
    ones, and only text still not ASCII is read character by character."""
    plain = _LATIN_MARKS.sub("", decomposed)
    if plain.isascii():
        return plain
    return "".join(c for c in plain if not unicodedata.combining(c))


def now() -> dt.datetime:
    return timezone.now()


def _is_number(word: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "¹", which int() refuses."""
    return word.isascii() and word.isdigit()
