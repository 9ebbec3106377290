"""axe-core in Chromium on the main pages: no serious or critical violation. And the phone
layout (375 px wide) of the activities, calendar, forecast board and team settings pages."""

import datetime as dt
import itertools
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from ruche.pipelines.services.activities import activity_create
from tests.browser import BROWSER_TEST
from tests.factories import DealFactory, OrganizationFactory

pytestmark = BROWSER_TEST

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 375, "height": 740}
SERIOUS = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}"""


@pytest.fixture
def open_as(page_as):
    return page_as


@pytest.fixture
def records(admin, rep, stages, actor_for):
    """A little of everything, so each page shows its cards, rows and forms."""
    org = OrganizationFactory(owner=admin, name="Librairie Moreau")
    deal = DealFactory(
        owner=admin,
        org=org,
        stage=stages[1],
        value="1500",
        title="Renouvellement",
        expected_close_date=timezone.localdate(),
    )
    today = timezone.localdate()
    for days, kind in ((-2, "call"), (0, "meeting"), (3, "task")):
        activity_create(
            actor=actor_for(admin),
            data={
                "subject": f"Activité {kind}",
                "type": kind,
                "deal_id": deal.pk,
                "due_date": (today + dt.timedelta(days=days)).isoformat(),
                "due_time": "10:00",
            },
        )
    return {"deal": deal}


def serious_violations(page, path: str) -> list[str]:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    return page.evaluate(SERIOUS)


@pytest.mark.parametrize(
    "path",
    [
        "/my-activities/",
        "/calendar/",
        "/calendar/?view=month",
        "/forecast-board/",
        "/forecast-board/?weighted=1",
        "/settings/team/",
    ],
)
def test_team_pages_have_no_serious_violation(open_as, admin, records, path):
    assert serious_violations(open_as(admin), path) == []


@pytest.mark.parametrize(
    "path",
    [
        "/board/",
        "/deals/",
        "/dashboard/",
        "/organizations/",
        "/persons/",
        "/products/",
        "/activities/",
        "/forecasts/",
        "/reports/",
        "/billing/invoices/",
        "/billing/quotes/",
        "/settings/pipelines/",
        "/settings/company/",
    ],
)
def test_main_pages_have_no_serious_violation(open_as, admin, records, path):
    assert serious_violations(open_as(admin), path) == []


def test_deal_page_has_no_serious_violation(open_as, admin, records):
    assert serious_violations(open_as(admin), f"/deals/{records['deal'].pk}/") == []


# Phones ---------------------------------------------------------------------------------


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.mark.parametrize(
    "path", ["/my-activities/", "/calendar/?view=month", "/forecast-board/", "/settings/team/"]
)
def test_no_page_wide_sideways_scroll_on_a_phone(open_as, admin, records, path):
    page = open_as(admin)
    page.set_viewport_size(PHONE)
    page.goto(path)
    assert page_width(page) <= PHONE["width"]


def test_forms_stack_on_a_phone(open_as, admin, records):
    page = open_as(admin)
    page.set_viewport_size(PHONE)
    page.goto("/settings/team/")
    boxes = [label.bounding_box() for label in page.locator("#invite-form label").all()]
    assert len(boxes) == 4
    # One field under the other, each as wide as the form.
    assert [round(box["x"]) for box in boxes] == [round(boxes[0]["x"])] * 4
    assert all(b["y"] > a["y"] for a, b in itertools.pairwise(boxes))
    assert all(box["width"] > PHONE["width"] * 0.75 for box in boxes)


def test_forecast_board_scrolls_by_column_on_a_phone(open_as, admin, records):
    page = open_as(admin)
    page.set_viewport_size(PHONE)
    page.goto("/forecast-board/")
    board = page.locator("#forecast")
    sizes = board.evaluate(
        "(el) => ({scroll: el.scrollWidth, client: el.clientWidth,"
        " snap: getComputedStyle(el).scrollSnapType,"
        " align: getComputedStyle(el.querySelector('.month')).scrollSnapAlign})"
    )
    assert sizes["scroll"] > sizes["client"]
    assert (sizes["snap"], sizes["align"]) == ("x mandatory", "start")
    column = page.locator(".month").first.bounding_box()
    assert PHONE["width"] * 0.7 < column["width"] < PHONE["width"]
