"""In the browser: tick deals in the list and move them to another stage in one go."""

from ruche.core.models import ChangeRecord
from ruche.pipelines.models import Deal
from tests.browser import BROWSER_TEST
from tests.factories import DealFactory

pytestmark = BROWSER_TEST


def test_a_bulk_stage_change_from_the_deals_list(page_as, rep, stages):
    moved = [DealFactory(owner=rep, stage=stages[0], title=f"Lot {n}") for n in range(2)]
    kept = DealFactory(owner=rep, stage=stages[0], title="Hors lot")
    page = page_as(rep)
    page.goto("/deals/?sort=title")
    for deal in moved:
        page.check(f'input[name="ids"][value="{deal.pk}"]')
    page.select_option("#bulk-action", "stage")
    page.locator('[data-bulk="stage"]').wait_for()
    page.select_option("#bulk-form select[name=stage]", str(stages[3].pk))
    page.click("#bulk-apply")
    page.wait_for_selector("text=2 affaires modifiées.")
    assert list(Deal.objects.order_by("title").values_list("title", "stage_id")) == [
        ("Hors lot", stages[0].pk),
        ("Lot 0", stages[3].pk),
        ("Lot 1", stages[3].pk),
    ]
    history = ChangeRecord.objects.filter(event="stage_moved").order_by("entity_id")
    assert list(history.values_list("entity_id", "old_value", "new_value", "actor_user")) == [
        (deal.pk, stages[0].pk, stages[3].pk, rep.pk) for deal in moved
    ]
    assert not ChangeRecord.objects.filter(entity_id=kept.pk, event="stage_moved").exists()
