"""A dirty CSV imported through the browser, from the upload to the end of the background run,
then undone (Debian's Chromium driven by Playwright, as in tests/web/test_browser.py)."""

import pytest

from ruche.contacts.models import Organization
from ruche.pipelines.models import Deal
from ruche.transfer.models import ImportRun
from tests.browser import BROWSER_TEST

pytestmark = BROWSER_TEST

DIRTY = (
    "Réf;Intitulé;Montant TTC;Étape;Société;Commercial;Statut;Raison\n"
    "B1;Site web;1.200,50 €;Négo;ACME SAS;rep@ruche.test;;\n"
    "B2;Audit;abc;Lead;Beta;;;\n"
    "B3;Formation;300;Prospect;Gamma;Rémi Nord;perdu;trop cher\n"
)


@pytest.fixture
def immediate_tasks(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def test_dirty_csv_from_upload_to_done_then_undone(
    page_as, admin, rep, stages, loss_reason, immediate_tasks
):
    page = page_as(admin)
    page.goto("/import/")
    page.select_option("select[name=entity]", "deals")
    page.set_input_files(
        "input[name=file]",
        {"name": "affaires.csv", "mimeType": "text/csv", "buffer": DIRTY.encode("cp1252")},
    )
    page.get_by_role("button", name="Envoyer").click()

    page.select_option("select[data-header='Montant TTC']", "value")
    page.select_option("select[data-header='Raison']", "lost_reason")
    page.get_by_role("button", name="Suivant").click()

    page.select_option("select[data-value='Négo']", "Negotiation")
    page.select_option("select[data-value='trop cher']", "Prix trop élevé")
    page.get_by_role("button", name="Suivant").click()

    problems = page.locator("#import-problems tbody tr")
    assert problems.all_inner_texts() == ["3\tMontant TTC\t'abc' is not an amount."]
    assert page.locator("#import-preview tbody tr").count() == 3
    page.get_by_label("importer les bonnes lignes").check()
    page.get_by_role("button", name="Importer", exact=True).click()

    page.wait_for_selector("#import-status[data-status=done]")
    counts = page.locator("#import-counts").inner_text()
    assert counts == "3 lignes traitées sur 3, 1 erreurs pour l’instant."  # noqa: RUF001
    assert page.locator("#import-report").inner_text() == (
        "3 lignes lues : 2 créées, 0 mises à jour, 0 ignorées."
    )
    assert page.locator("#import-bad-rows").is_visible()
    deals = Deal.objects.order_by("external_id")
    assert [
        (d.external_id, d.title, d.value_minor, d.stage.name, d.status, d.owner_id, d.org.name)
        for d in deals
    ] == [
        ("B1", "Site web", 120050, "Negotiation", "open", rep.pk, "ACME SAS"),
        ("B3", "Formation", 30000, "Prospect", "lost", rep.pk, "Gamma"),
    ]
    assert deals[1].lost_reason_id == loss_reason.pk

    page.get_by_role("button", name="Défaire cet import").click()
    page.wait_for_selector("#import-status[data-status=undone]")
    assert Deal.objects.count() == 0 and Organization.objects.count() == 0
    assert ImportRun.objects.get().status == "undone"
