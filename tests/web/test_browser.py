"""Browser tests of the main flows: sign in, quick add, drag, lost with a reason, filters, language,
lines, and a private deal's 404 (shared set-up in tests/browser.py)."""

from ruche.core.models import ChangeRecord, Visibility
from ruche.pipelines.models import Deal
from tests.browser import BROWSER_TEST, drag
from tests.factories import DealFactory
from tests.web.conftest import PASSWORD

pytestmark = BROWSER_TEST


def test_sign_in(page_as, rep, pipeline):
    rep.set_password(PASSWORD)
    rep.save()
    page = page_as()
    page.goto("/deals/")
    page.fill("#id_username", "rep@ruche.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/deals/")
    assert page.locator("h1").inner_text() == "Affaires"
    assert page.locator("text=Se déconnecter").is_visible()


def test_quick_add_then_drag_to_another_stage_then_lose(page_as, rep, stages, loss_reason):
    page = page_as(rep)
    page.goto("/")
    page.click(".quick-add-open")
    page.fill("#quick-add-body input[name=title]", "Affaire du navigateur")
    page.fill("#quick-add-body input[name=org_name]", "Librairie Moreau")
    page.fill("#quick-add-body input[name=value]", "1 500,00")
    page.click("#quick-add-body button[type=submit]")
    page.wait_for_selector("text=Affaire ajoutée")
    deal = Deal.objects.get(title="Affaire du navigateur")
    assert (deal.stage_id, deal.value_minor, deal.org.name) == (
        stages[0].pk,
        150000,
        "Librairie Moreau",
    )
    page.click("#quick-add .close-dialog")
    card = page.locator(f"#card-{deal.pk}")
    card.wait_for()

    target = page.locator(f'.cards[data-stage-id="{stages[2].pk}"]')
    with page.expect_response(lambda r: r.url.endswith(f"/deals/{deal.pk}/move/")) as moved:
        drag(page, card, target)
    assert moved.value.status == 200
    page.locator(f'.cards[data-stage-id="{stages[2].pk}"] #card-{deal.pk}').wait_for()
    deal.refresh_from_db()
    assert deal.stage_id == stages[2].pk
    move = ChangeRecord.objects.get(entity="deal", entity_id=deal.pk, event="stage_moved")
    assert (move.old_value, move.new_value, move.actor_user_id) == (
        stages[0].pk,
        stages[2].pk,
        rep.pk,
    )
    header = page.locator(f"#stage-summary-{stages[2].pk} .count")
    page.wait_for_function(
        f"document.querySelector('#stage-summary-{stages[2].pk} .count').dataset.count === '1'"
    )
    assert header.inner_text() == "1 affaire"

    drag(page, page.locator(f"#card-{deal.pk}"), page.locator(".dropzone.lost"))
    page.locator("#lost-dialog").wait_for()
    page.select_option("#lost-reason", str(loss_reason.pk))
    with page.expect_response(lambda r: r.url.endswith(f"/deals/{deal.pk}/status/")) as lost:
        page.click("#lost-confirm")
    assert lost.value.status == 204
    page.locator(f"#card-{deal.pk}").wait_for(state="detached")
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason_id) == ("lost", loss_reason.pk)


def test_a_refused_drop_puts_the_card_back_and_says_why(page_as, rep, stages):
    deal = DealFactory(owner=rep, stage=stages[0], title="Sans raison")
    page = page_as(rep)
    page.goto("/")
    card = page.locator(f"#card-{deal.pk}")
    card.wait_for()
    drag(page, card, page.locator(".dropzone.lost"))
    page.click("#lost-cancel")
    page.locator(f'.cards[data-stage-id="{stages[0].pk}"] #card-{deal.pk}').wait_for()
    # A stage removed meanwhile: the service refuses, the card goes back, the reason shows.
    type(stages[3]).objects.filter(pk=stages[3].pk).update(is_deleted=True)
    drag(page, card, page.locator(f'.cards[data-stage-id="{stages[3].pk}"]'))
    page.locator("#toast").wait_for()
    assert page.locator("#toast").inner_text() == f"No such stage: {stages[3].pk}."
    page.locator(f'.cards[data-stage-id="{stages[0].pk}"] #card-{deal.pk}').wait_for()
    deal.refresh_from_db()
    assert deal.stage_id == stages[0].pk
    # The keyboard alternative: the card's stage menu.
    page.select_option(f"#move-{deal.pk}", str(stages[1].pk))
    page.click(f"#card-{deal.pk} .card-move button")
    page.locator(f'.cards[data-stage-id="{stages[1].pk}"] #card-{deal.pk}').wait_for()
    deal.refresh_from_db()
    assert deal.stage_id == stages[1].pk


def test_filter_the_board_by_owner(page_as, rep, other_rep, stages):
    mine = DealFactory(owner=rep, stage=stages[0], title="La mienne")
    theirs = DealFactory(owner=other_rep, stage=stages[0], title="La sienne")
    page = page_as(rep)
    page.goto("/")
    page.locator(f"#card-{theirs.pk}").wait_for()
    page.select_option("select[name=owner]", str(rep.pk))
    page.click(".filters button[type=submit]")
    page.wait_for_url(f"**owner={rep.pk}**")
    page.locator(f"#card-{mine.pk}").wait_for()
    assert page.locator(f"#card-{theirs.pk}").count() == 0


def test_switch_to_english_and_back(page_as, rep, pipeline):
    page = page_as(rep)
    page.goto("/deals/")
    page.click("button[lang=en]")
    page.wait_for_selector("text=Sign out")
    assert page.locator("h1").inner_text() == "Deals"
    rep.refresh_from_db()
    assert rep.locale == "en"
    page.click("button[lang=fr]")
    page.wait_for_selector("text=Se déconnecter")
    assert page.locator("h1").inner_text() == "Affaires"


def test_edit_lines_and_see_the_totals(page_as, rep):
    deal = DealFactory(owner=rep, title="Avec lignes")
    page = page_as(rep)
    page.goto(f"/deals/{deal.pk}/")
    row = page.locator("#deal-lines form.new-line")
    row.locator("input[name=name]").fill("Formation")
    row.locator("input[name=quantity]").fill("3")
    row.locator("input[name=unit_price]").fill("410,50")
    # Computed as you type, before anything is saved.
    net = page.locator('#deal-lines [data-total="net"]')
    assert net.inner_text().replace("\u202f", " ").replace("\xa0", " ") == "1 231,50 €"
    gross = page.locator('#deal-lines [data-total="gross"]')
    assert gross.inner_text().replace("\u202f", " ").replace("\xa0", " ") == "1 477,80 €"
    with page.expect_response(lambda r: r.url.endswith(f"/deals/{deal.pk}/lines/")):
        row.locator("button[type=submit]").click()
    page.locator("#deal-lines form[data-line-id]").wait_for()
    deal.refresh_from_db()
    assert deal.value_minor == 123150
    saved = page.locator("#deal-lines form[data-line-id]")
    saved.locator("input[name=discount_percent]").fill("10")
    assert net.inner_text().replace("\u202f", " ").replace("\xa0", " ") == "1 108,35 €"
    with page.expect_response(lambda r: "/lines/" in r.url):
        saved.locator("button[type=submit]").click()
    page.wait_for_function(
        "document.querySelector('#field-value .field-value').textContent.includes('108,35')"
    )
    deal.refresh_from_db()
    assert deal.value_minor == 110835
    # A refusal (422) is shown in place, with what was typed, and changes nothing.
    saved = page.locator("#deal-lines form[data-line-id]")
    saved.locator("input[name=quantity]").fill("0")
    saved.locator("button[type=submit]").click()
    page.locator("#deal-lines .error").wait_for()
    assert page.locator("#deal-lines .error").inner_text() == (
        "Must be between 0.0001 and 99999999999."
    )
    assert saved.locator("input[name=quantity]").input_value() == "0"
    deal.refresh_from_db()
    assert deal.value_minor == 110835


def test_another_teams_private_deal_is_404_by_url(page_as, rep, other_rep):
    private = DealFactory(owner=other_rep, visible_to=Visibility.OWNER, title="Secret")
    page = page_as(rep)
    response = page.goto(f"/deals/{private.pk}/")
    assert response.status == 404
    assert "Secret" not in page.content()


def test_admin_reorders_stages_by_dragging_and_by_keyboard(page_as, admin, pipeline, stages):
    def names():
        return list(
            pipeline.stages.filter(is_deleted=False)
            .order_by("order_nr", "id")
            .values_list("name", flat=True)
        )

    page = page_as(admin)
    page.set_viewport_size({"width": 1280, "height": 2400})  # the whole list in view
    page.goto(f"/settings/pipelines/?pipeline={pipeline.pk}")
    handle = page.locator(f'.stage-item[data-id="{stages[2].pk}"] .drag-handle')
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    goal = page.locator(f'.stage-item[data-id="{stages[0].pk}"]').bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] - 20, steps=5)
    page.mouse.move(goal["x"] + 40, goal["y"] + goal["height"] / 2, steps=15)
    page.mouse.move(goal["x"] + 40, goal["y"] + 8, steps=10)
    with page.expect_navigation():
        page.mouse.up()
    assert names() == ["Meeting", "Lead", "Prospect", "Qualified / quote sent", "Negotiation"]
    # The keyboard way: focus the "move down" button and press Enter.
    page.get_by_role("button", name="Descendre Meeting").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert names() == ["Lead", "Meeting", "Prospect", "Qualified / quote sent", "Negotiation"]
    assert page.locator(".message.success").inner_text() == "Étapes réordonnées."
