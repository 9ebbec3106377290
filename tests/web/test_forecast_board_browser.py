"""The forecast board in Chromium: drag a card to the next month, and the keyboard way."""

import datetime as dt

import pytest
from django.utils import timezone

from ruche.core.models import ChangeRecord
from ruche.pipelines.models import Deal
from tests.browser import BROWSER_TEST, drag
from tests.factories import DealFactory

pytestmark = BROWSER_TEST


@pytest.fixture
def open_as(page_as):
    return page_as


@pytest.fixture
def this_month():
    return timezone.localdate().replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def test_drag_a_deal_to_the_next_month(open_as, rep, stages, this_month):
    close = this_month.replace(day=12)
    deal = DealFactory(owner=rep, stage=stages[1], value="1000", expected_close_date=close)
    following = next_month(this_month)
    page = open_as(rep)
    page.goto("/forecast-board/")
    card = page.locator(f"#forecast-card-{deal.pk}")
    card.wait_for()
    target = page.locator(f'.cards[data-month="{following:%Y-%m}"]')
    with page.expect_response(lambda r: r.url.endswith(f"/deals/{deal.pk}/month/")) as moved:
        drag(page, card, target)
    assert moved.value.status == 204
    page.locator(f'.cards[data-month="{following:%Y-%m}"] #forecast-card-{deal.pk}').wait_for()
    deal.refresh_from_db()
    assert deal.expected_close_date == following.replace(day=12)
    record = ChangeRecord.objects.get(entity="deal", entity_id=deal.pk, field="expected_close_date")
    assert (record.old_value, record.new_value, record.actor_user_id) == (
        close.isoformat(),
        following.replace(day=12).isoformat(),
        rep.pk,
    )
    # The columns' totals come back from the server.
    page.wait_for_function(
        f"document.querySelector('#column-{following:%Y-%m} dd.open').textContent.includes('1')"
    )
    open_text = page.locator(f"#column-{following:%Y-%m} dd.open").inner_text()
    assert open_text.replace("\u202f", " ").replace("\xa0", " ") == "1 000,00 €"


def test_a_refused_drag_puts_the_card_back(open_as, rep, stages, this_month):
    deal = DealFactory(owner=rep, expected_close_date=this_month.replace(day=3))
    page = open_as(rep)
    page.goto("/forecast-board/")
    card = page.locator(f"#forecast-card-{deal.pk}")
    card.wait_for()
    Deal.objects.filter(pk=deal.pk).update(status="won")  # closed meanwhile
    drag(page, card, page.locator(f'.cards[data-month="{next_month(this_month):%Y-%m}"]'))
    page.locator("#toast").wait_for()
    assert page.locator("#toast").inner_text() == "Seule une affaire ouverte change de mois."
    page.locator(f'.cards[data-month="{this_month:%Y-%m}"] #forecast-card-{deal.pk}').wait_for()
    deal.refresh_from_db()
    assert deal.expected_close_date == this_month.replace(day=3)


def test_the_keyboard_way(open_as, rep, this_month):
    deal = DealFactory(owner=rep, expected_close_date=this_month.replace(day=5))
    following = next_month(this_month)
    page = open_as(rep)
    page.goto("/forecast-board/")
    page.select_option(f"#month-of-{deal.pk}", f"{following:%Y-%m}")
    page.focus(f"#forecast-card-{deal.pk} form button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.locator(f'.cards[data-month="{following:%Y-%m}"] #forecast-card-{deal.pk}').wait_for()
    deal.refresh_from_db()
    assert deal.expected_close_date == following.replace(day=5)
    assert page.locator(".message.success").inner_text() == "Date de clôture prévue modifiée."
