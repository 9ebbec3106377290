"""In a real browser: clicking a funnel stage on the dashboard lands on the deals list filtered
to that stage's open deals."""

from tests.browser import BROWSER_TEST
from tests.factories import DealFactory

pytestmark = BROWSER_TEST


def test_clicking_a_funnel_stage_opens_the_filtered_deal_list(page_as, manager, rep, stages):
    DealFactory(owner=rep, title="Affaire en proposition", value="4000", stage=stages[1])
    DealFactory(owner=rep, title="Autre proposition", value="600", stage=stages[1])
    DealFactory(owner=rep, title="Affaire qualifiée", value="900", stage=stages[0])
    DealFactory(owner=rep, title="Affaire gagnée", value="700", stage=stages[1], status="won")
    page = page_as(manager)
    page.goto("/dashboard/", wait_until="domcontentloaded")
    row = page.locator(f'tr[data-stage="{stages[1].pk}"]')
    assert row.locator("[data-count]").inner_text() == "2"
    row.locator("a").click()
    page.wait_for_url(
        f"**/deals/?status=open&pipeline={stages[1].pipeline_id}&stage={stages[1].pk}"
    )
    listed = page.locator("main").inner_text()
    assert "Affaire en proposition" in listed and "Autre proposition" in listed
    assert "Affaire qualifiée" not in listed and "Affaire gagnée" not in listed
