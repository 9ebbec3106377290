"""In the browser: tick the page, extend the selection to every deal matching the search, and
change their owner in one go (55 deals, more than the 50 a page shows)."""

from ruche.core.models import ChangeRecord
from ruche.pipelines.models import Deal
from tests.browser import BROWSER_TEST
from tests.factories import DealFactory

pytestmark = BROWSER_TEST


def test_select_all_matching_deals_and_change_their_owner(page_as, rep, manager):
    matching = [DealFactory(owner=rep, title=f"Lot {n:02}") for n in range(55)]
    others = [DealFactory(owner=rep, title=f"Autre {n}") for n in range(2)]
    page = page_as(rep)
    page.goto("/deals/?q=Lot&sort=title")
    page.check(".select-all")
    offer = page.get_by_text("Les 50 affaires affichées sont sélectionnées.")
    offer.wait_for()
    first_row = f'input[name="ids"][value="{matching[0].pk}"]'
    page.uncheck(first_row)  # not every shown deal ticked any more: no offer
    offer.wait_for(state="detached")
    page.check(first_row)
    offer.wait_for()
    page.click("text=Sélectionner les 55 affaires correspondantes")
    page.get_by_text("Les 55 affaires correspondant aux filtres sont sélectionnées.").wait_for()
    page.select_option("#bulk-action", "owner")
    page.select_option("#bulk-form select[name=owner]", str(manager.pk))
    page.click("#bulk-apply")
    page.wait_for_selector("text=55 affaires modifiées.")
    owners = dict(Deal.objects.values_list("title", "owner_id"))
    assert owners == {deal.title: manager.pk for deal in matching} | {
        deal.title: rep.pk for deal in others
    }
    history = ChangeRecord.objects.filter(event=ChangeRecord.Event.OWNER_CHANGED)
    assert sorted(history.values_list("entity_id", "old_value", "new_value", "actor_user")) == [
        (deal.pk, rep.pk, manager.pk, rep.pk) for deal in matching
    ]
