"""The deals list's "select all matching": the bulk action applies to every deal the list's
filters and search show to this user (deal_list's visibility rule), each through
deal_update/deal_delete with its history, all or nothing; refused, nothing changed, when more
than MAX_BULK match or when the count is not the one the banner named."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ruche.core.models import ChangeRecord, Lookup, Visibility
from ruche.pipelines.models import Deal, Pipeline, Stage
from ruche.web.views import lists
from tests.factories import DealFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alpha(rep, other_rep, stages) -> dict[str, Deal]:
    """Deals titled "Alpha" in the first stage match `?q=Alpha&stage=<first>`; the rep sees three
    of them (the fourth is private to another rep); two more deals do not match."""
    specs = {
        "alpha_1": (rep, stages[0], Visibility.EVERYONE),
        "alpha_2": (rep, stages[0], Visibility.EVERYONE),
        "alpha_3": (other_rep, stages[0], Visibility.EVERYONE),
        "alpha_private": (other_rep, stages[0], Visibility.OWNER),
        "alpha_later": (rep, stages[1], Visibility.EVERYONE),
        "beta": (rep, stages[0], Visibility.EVERYONE),
    }
    return {
        name: DealFactory(
            title=name.replace("_", " ").capitalize(), owner=owner, stage=stage, visible_to=seen
        )
        for name, (owner, stage, seen) in specs.items()
    }


def matching_query(stages) -> str:
    return f"status=all&q=Alpha&stage={stages[0].pk}"


def bulk_matching(client, query: str, expected, action: str, **values):
    data = {"action": action, "matching": query, "expected": expected, "next": f"/deals/?{query}"}
    return client.post("/deals/bulk/", data | values)


def owners(deals: dict[str, Deal]) -> dict[str, int]:
    return {name: Deal.objects.get(pk=deal.pk).owner_id for name, deal in deals.items()}


def test_the_banner_offers_every_deal_the_user_sees_through_the_filters(
    web_as, rep, admin, stages, alpha
):
    url = f"/deals/?{matching_query(stages)}&matching=count&shown=2"
    page = web_as(rep).get(url).content.decode()
    assert "Les 2 affaires affichées sont sélectionnées." in page
    assert "Sélectionner les 3 affaires correspondantes" in page
    query = matching_query(stages).replace("&", "&amp;")
    assert f'<input type="hidden" name="matching" value="{query}" form="bulk-form" disabled>' in (
        page
    )
    assert '<input type="hidden" name="expected" value="3" form="bulk-form" disabled>' in page
    admin_page = web_as(admin).get(url).content.decode()
    assert "Sélectionner les 4 affaires correspondantes" in admin_page


def test_the_banner_offers_nothing_when_every_match_is_shown(web_as, rep, stages, alpha):
    url = f"/deals/?{matching_query(stages)}&matching=count&shown=3"
    assert web_as(rep).get(url).content.decode().strip() == ""


def test_the_list_page_carries_the_banner_and_its_script(web_as, rep, stages, alpha):
    page = web_as(rep).get(f"/deals/?{matching_query(stages)}").content.decode()
    query = f"{matching_query(stages)}&sort=-update_time".replace("&", "&amp;")
    assert f'data-url="?{query}&amp;matching=count"' in page
    assert "web/bulk_select.js" in page


def test_select_all_matching_changes_the_owner_of_exactly_the_matching_deals(
    web_as, rep, manager, other_rep, stages, alpha
):
    client = web_as(rep)
    response = bulk_matching(
        client, matching_query(stages), 3, "owner", owner=manager.pk, ids=[alpha["alpha_1"].pk]
    )
    assert response.status_code == 302
    assert owners(alpha) == {
        "alpha_1": manager.pk,
        "alpha_2": manager.pk,
        "alpha_3": manager.pk,
        "alpha_private": other_rep.pk,
        "alpha_later": rep.pk,
        "beta": rep.pk,
    }
    history = ChangeRecord.objects.filter(event=ChangeRecord.Event.OWNER_CHANGED)
    assert sorted(history.values_list("entity_id", "old_value", "new_value", "actor_user")) == [
        (alpha["alpha_1"].pk, rep.pk, manager.pk, rep.pk),
        (alpha["alpha_2"].pk, rep.pk, manager.pk, rep.pk),
        (alpha["alpha_3"].pk, other_rep.pk, manager.pk, rep.pk),
    ]
    assert "3 affaires modifiées." in client.get(response["Location"]).content.decode()


def test_select_all_matching_follows_the_label_filter(web_as, manager, rep):
    first, second = Lookup.objects.filter(kind=Lookup.Kind.LABEL).order_by("id")[:2]
    tagged = [DealFactory(owner=rep, label_ids=[first.pk]) for _ in range(2)]
    untagged = DealFactory(owner=rep, label_ids=[second.pk])
    query = f"status=all&label={first.pk}"
    response = bulk_matching(web_as(manager), query, 2, "label", label=second.pk)
    assert response.status_code == 302
    labels = {
        deal.pk: list(Deal.objects.get(pk=deal.pk).labels.values_list("pk", flat=True))
        for deal in [*tagged, untagged]
    }
    assert labels == {deal.pk: [second.pk] for deal in [*tagged, untagged]}
    changes = ChangeRecord.objects.filter(field="labels")
    assert sorted(changes.values_list("entity_id", "old_value", "new_value")) == [
        (tagged[0].pk, [first.pk], [second.pk]),
        (tagged[1].pk, [first.pk], [second.pk]),
    ]


def test_a_count_including_a_deal_the_rep_may_not_see_is_refused(
    web_as, rep, manager, stages, alpha, unchanged
):
    client = web_as(rep)
    with unchanged(*alpha.values()):
        response = bulk_matching(client, matching_query(stages), 4, "owner", owner=manager.pk)
    assert response.status_code == 302
    followed = client.get(response["Location"]).content.decode()
    assert (
        "Rien n\u2019a été modifié : 3 affaires correspondent désormais à ces filtres, et non 4. "
        "Vérifiez la liste et recommencez." in followed
    )


def test_more_matching_deals_than_a_bulk_change_takes_are_refused(
    web_as, rep, manager, stages, alpha, unchanged, monkeypatch
):
    monkeypatch.setattr(lists, "MAX_BULK", 2)
    client = web_as(rep)
    banner = client.get(f"/deals/?{matching_query(stages)}&matching=count&shown=2")
    assert "Plus de 2 affaires correspondent à ces filtres" in banner.content.decode()
    assert 'name="matching"' not in banner.content.decode()
    with unchanged(*alpha.values()):
        response = bulk_matching(client, matching_query(stages), 3, "owner", owner=manager.pk)
    followed = client.get(response["Location"]).content.decode()
    assert (
        "Rien n\u2019a été modifié : plus de 2 affaires correspondent à ces filtres, et une "
        "modification groupée en traite 2 au plus. Affinez les filtres." in followed
    )


def test_unreadable_filters_are_refused(web_as, rep, manager, alpha, unchanged):
    client = web_as(rep)
    with unchanged(*alpha.values()):
        response = bulk_matching(client, "status=all&owner=abc", 5, "owner", owner=manager.pk)
    followed = client.get(response["Location"]).content.decode()
    refusal = "Rien n\u2019a été modifié : les filtres de la liste n\u2019ont pas pu être lus."
    assert refusal in followed


def test_one_refused_deal_leaves_every_matching_deal_unchanged(
    web_as, rep, pipeline, stages, unchanged
):
    other = Pipeline.objects.create(name="Partenaires", order_nr=9)
    foreign_stage = Stage.objects.create(pipeline=other, name="Contact", order_nr=1)
    mixed = [
        DealFactory(owner=rep, title="Mixte 1", stage=stages[0]),
        DealFactory(owner=rep, title="Mixte 2", stage=foreign_stage),
    ]
    with unchanged(*mixed):
        response = bulk_matching(web_as(rep), "status=all&q=Mixte", 2, "stage", stage=stages[2].pk)
    assert response.status_code == 422
    refusal = (
        f"Rien n\u2019a été modifié : Stage {stages[2].pk} belongs to pipeline {pipeline.pk}, "
        f"not to pipeline {other.pk}."
    )
    assert refusal in response.content.decode()


def test_deleting_every_matching_deal_asks_first_naming_the_count(
    web_as, rep, stages, alpha, unchanged
):
    client = web_as(rep)
    with unchanged(*alpha.values()):
        confirm = bulk_matching(client, matching_query(stages), 3, "delete")
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Cela supprime 3 affaires. Leur historique est conservé." in page
    matched = sorted(alpha[name].pk for name in ("alpha_1", "alpha_2", "alpha_3"))
    posted = [f'<input type="hidden" name="ids" value="{pk}">' for pk in matched]
    assert all(hidden in page for hidden in posted)
    assert page.count('name="ids"') == 3
    done = client.post(
        "/deals/bulk/", {"action": "delete", "confirm": "yes", "ids": matched, "next": "/deals/"}
    )
    assert done.status_code == 302
    assert sorted(Deal.objects.filter(is_deleted=True).values_list("pk", flat=True)) == matched
    deleted = ChangeRecord.objects.filter(event=ChangeRecord.Event.DELETED)
    assert sorted(deleted.values_list("entity_id", flat=True)) == matched


def test_the_banner_costs_the_same_queries_for_few_and_many_matching_deals(web_as, rep):
    client = web_as(rep)
    counts = []
    for total in (2, 20):
        while Deal.objects.count() < total:
            DealFactory(owner=rep)
        with CaptureQueriesContext(connection) as queries:
            page = client.get(f"/deals/?owner={rep.pk}&matching=count&shown=1").content.decode()
        assert f"Sélectionner les {total} affaires correspondantes" in page
        counts.append(len(queries))
    # The session, the user, the matching ids (at most MAX_BULK + 1 of them): 3 however many.
    assert counts == [3, 3]


def test_a_matching_change_costs_the_same_queries_for_every_further_deal(web_as, rep, stages):
    client = web_as(rep)
    counts = {}
    for total in (2, 4, 6):
        while Deal.objects.count() < total:
            DealFactory(owner=rep, stage=stages[0])
        target = stages[total // 2]
        with CaptureQueriesContext(connection) as queries:
            query = f"status=all&owner={rep.pk}"
            response = bulk_matching(client, query, total, "stage", stage=target.pk)
        assert response.status_code == 302
        assert set(Deal.objects.values_list("stage_id", flat=True)) == {target.pk}
        counts[total] = len(queries)
    # The request's own queries, then deal_update's for each deal (lock, history, stage entry,
    # and 6 for the stage tallies: the deal's entries and stays read before and after, and
    # the two tally upserts; on PostgreSQL one more, the deal writers' turn).
    per_deal = 19 + (connection.vendor == "postgresql")
    assert counts == {total: 6 + per_deal * total for total in (2, 4, 6)}
