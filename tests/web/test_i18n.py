"""Every string of the web app is translated into French, and amounts and dates follow the
language: "1 234,50 €" in French, "€1,234.50" in English."""

import datetime as dt
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils import translation

from ruche.web import formatting

LOCALE = Path(settings.BASE_DIR) / "ruche" / "web" / "locale"


def test_every_french_message_is_translated():
    with open(LOCALE / "fr" / "LC_MESSAGES" / "django.po", "rb") as po:
        catalog = read_po(po)
    untranslated = [
        message.id
        for message in catalog
        if message.id
        and (
            not message.string
            or (isinstance(message.string, tuple) and not all(message.string))
            or message.fuzzy
        )
    ]
    assert untranslated == []
    assert (LOCALE / "fr" / "LC_MESSAGES" / "django.mo").exists()


@pytest.mark.parametrize(
    ("language", "amount", "day"),
    [
        ("fr", "1\u202f234,50\xa0€", "3 févr. 2027"),
        ("en", "€1,234.50", "Feb 3, 2027"),
    ],
)
def test_amounts_and_dates_follow_the_language(language, amount, day):
    with translation.override(language):
        assert formatting.money(123450, "EUR") == amount
        assert formatting.date(dt.date(2027, 2, 3)) == day


def test_currencies_keep_their_own_decimals():
    with translation.override("fr"):
        assert formatting.money(1234, "JPY") == "1\u202f234\xa0JPY"
        assert formatting.money(-5, "EUR") == "-0,05\xa0€"
