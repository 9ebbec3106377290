"""My activities and the calendar in Chromium: marking done and navigating swap the page part
in place (HTMX), and the address follows."""

import datetime as dt

import pytest
from django.utils import timezone

from ruche.pipelines.models import Activity
from ruche.pipelines.services.activities import activity_create
from tests.browser import BROWSER_TEST

pytestmark = BROWSER_TEST


@pytest.fixture
def open_as(page_as):
    return page_as


def test_mark_done_in_place(open_as, rep, rep_actor):
    today = timezone.localdate()
    call = activity_create(
        actor=rep_actor, data={"subject": "Appeler Léa", "type": "call", "due_date": today}
    )
    activity_create(
        actor=rep_actor, data={"subject": "Réunion", "type": "meeting", "due_date": today}
    )
    page = open_as(rep)
    page.goto("/my-activities/")
    page.evaluate("window.notReloaded = true")
    page.select_option("select[name=type]", "call")
    page.wait_for_url("**/my-activities/?type=call")
    page.locator("#activity-" + str(call.pk)).wait_for()
    assert page.locator(".activity-row").count() == 1
    page.get_by_role("button", name="Marquer « Appeler Léa » comme fait").click()
    page.locator(f"#activity-{call.pk}").wait_for(state="detached")
    assert page.evaluate("window.notReloaded") is True
    assert Activity.objects.get(pk=call.pk).done is True
    assert page.locator("#section-today .count").inner_text() == "0"


def test_calendar_navigation_in_place(open_as, rep, rep_actor):
    monday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    following = monday + dt.timedelta(days=8)
    activity_create(actor=rep_actor, data={"subject": "Démo", "due_date": following})
    page = open_as(rep)
    page.goto("/calendar/")
    page.evaluate("window.notReloaded = true")
    assert page.locator("text=Démo").count() == 0
    page.click("text=Semaine suivante")
    page.locator("text=Démo").wait_for()
    assert page.evaluate("window.notReloaded") is True
    next_week = timezone.localdate() + dt.timedelta(days=7)
    assert page.url.endswith(f"/calendar/?view=week&date={next_week}&type=")
    page.click("text=Mois")
    page.wait_for_selector("table.calendar.month")
    assert page.locator("table.calendar.month tbody tr").count() in (4, 5, 6)
