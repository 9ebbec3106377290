"""Every string of the web app is translated into French, and amounts and dates follow the
language: "1 234,50 €" in French, "€1,234.50" in English."""

import datetime as dt
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils import translation

from ruche.web import formatting

# Each app keeps the catalog of its own pages; Django merges them at run time.
FRENCH_CATALOGS = sorted(Path(settings.BASE_DIR).glob("ruche/*/locale/fr/LC_MESSAGES/django.po"))


def test_the_web_app_has_a_french_catalog():
    assert Path(settings.BASE_DIR) / "ruche/web/locale/fr/LC_MESSAGES/django.po" in FRENCH_CATALOGS


@pytest.mark.parametrize("po_path", FRENCH_CATALOGS, ids=lambda path: path.parts[-5])
def test_every_french_message_is_translated(po_path):
    with open(po_path, "rb") as po:
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
    assert po_path.with_suffix(".mo").exists()


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
