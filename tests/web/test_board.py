"""The pipeline board: column totals from the database, lazy paged columns, filters, rotting
cards, moves and closes through deal_update, and a bounded number of queries."""

import datetime as dt

import pytest
from django.utils import timezone

from ruche.core.models import ChangeRecord, Lookup, Visibility
from ruche.pipelines.models import Deal, StageEntry
from tests.factories import DealFactory, OrganizationFactory

pytestmark = pytest.mark.django_db
NNBSP = "\u202f"
NBSP = "\xa0"


def eur(text: str) -> str:
    """'1 234,50 €' as Babel writes it in French: narrow no-break spaces."""
    return text.replace(" ", NNBSP).replace(NNBSP + "€", NBSP + "€")


def board_url(pipeline, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/pipelines/{pipeline.pk}/board/" + (f"?{query}" if query else "")


def column_url(pipeline, stage, query="status=open"):
    return f"/pipelines/{pipeline.pk}/board/stages/{stage.pk}/?{query}"


def test_columns_show_count_total_and_weighted_total(web_as, rep, pipeline, stages):
    stage = stages[1]
    stage.deal_probability = 20
    stage.save()
    DealFactory(owner=rep, stage=stage, value="1234.50")
    DealFactory(owner=rep, stage=stage, value="1000.00", probability=55)
    DealFactory(owner=rep, stage=stage, value="99.99", status="won")  # not open
    html = web_as(rep).get(board_url(pipeline)).content.decode()
    header = html.split(f'id="stage-summary-{stage.pk}"')[1].split("</header>")[0]
    assert "2 affaires" in header
    assert eur("2 234,50 €") in header
    # 1234.50 x 20 % + 1000.00 x 55 % = 246.90 + 550.00
    assert "pondérée " + eur("796,90 €") in header
    empty = html.split(f'id="stage-summary-{stages[0].pk}"')[1].split("</header>")[0]
    assert "0 affaire" in empty


def test_a_column_pages_its_cards(web_as, rep, pipeline, stages):
    deals = [DealFactory(owner=rep, stage=stages[0], title=f"Affaire n°{n}") for n in range(25)]
    client = web_as(rep)
    first = client.get(column_url(pipeline, stages[0])).content.decode()
    assert first.count('<article class="card') == 20
    assert f'id="card-{deals[24].pk}"' in first and f'id="card-{deals[4].pk}"' not in first
    cursor = first.split("cursor=")[1].split('"')[0]
    second = client.get(column_url(pipeline, stages[0]) + f"&cursor={cursor}").content.decode()
    assert second.count('<article class="card') == 5
    assert f'id="card-{deals[4].pk}"' in second and "cursor=" not in second
    bad = client.get(column_url(pipeline, stages[0]) + "&cursor=nonsense")
    assert bad.status_code == 400


def test_card_shows_organisation_value_owner_close_date_and_next_activity(
    web_as, rep, rep_actor, pipeline, stages
):
    from ruche.pipelines.services import activity_create

    org = OrganizationFactory(name="Boulangerie Dupont", owner=rep)
    deal = DealFactory(
        owner=rep, stage=stages[0], org=org, value="1500", expected_close_date="2027-01-15"
    )
    activity_create(
        actor=rep_actor, data={"deal_id": deal.pk, "subject": "Rappeler", "due_date": "2027-01-02"}
    )
    card = web_as(rep).get(column_url(pipeline, stages[0])).content.decode()
    assert "Boulangerie Dupont" in card
    assert eur("1 500,00 €") in card
    assert "Rémi Nord" in card
    assert "15 janv. 2027" in card
    assert "→ Rappeler · 2 janv. 2027" in card
    assert 'class="card-next overdue"' not in card


def test_an_overdue_next_activity_is_marked(web_as, rep, rep_actor, pipeline, stages):
    from ruche.pipelines.services import activity_create

    deal = DealFactory(owner=rep, stage=stages[0])
    activity_create(
        actor=rep_actor, data={"deal_id": deal.pk, "subject": "En retard", "due_date": "2020-01-02"}
    )
    card = web_as(rep).get(column_url(pipeline, stages[0])).content.decode()
    assert '<span class="card-next overdue" title="Prochaine activité">→ En retard' in card


def test_a_card_idle_longer_than_its_stage_allows_is_red(web_as, rep, pipeline, stages):
    stage = stages[0]
    stage.days_to_rotten = 10
    stage.save()
    idle = DealFactory(owner=rep, stage=stage)
    fresh = DealFactory(owner=rep, stage=stage)
    recent_activity = DealFactory(owner=rep, stage=stage)
    eleven_days_ago = timezone.now() - dt.timedelta(days=11)
    Deal.objects.filter(pk__in=[idle.pk, recent_activity.pk]).update(
        stage_change_time=eleven_days_ago
    )
    Deal.objects.filter(pk=recent_activity.pk).update(
        last_activity_date=timezone.localdate() - dt.timedelta(days=2)
    )
    html = web_as(rep).get(column_url(pipeline, stage)).content.decode()
    assert f'class="card rotting" data-deal-id="{idle.pk}"' in html
    assert f'class="card" data-deal-id="{fresh.pk}"' in html
    assert f'class="card" data-deal-id="{recent_activity.pk}"' in html


def test_filters_owner_status_label_and_close_range(
    web_as, rep, other_rep, manager, pipeline, stages
):
    label = Lookup.objects.filter(kind=Lookup.Kind.LABEL).first()
    mine = DealFactory(owner=rep, stage=stages[0], expected_close_date="2027-03-10")
    theirs = DealFactory(owner=other_rep, stage=stages[0], expected_close_date="2027-05-01")
    won = DealFactory(owner=rep, stage=stages[0], status="won")
    labelled = DealFactory(owner=rep, stage=stages[0], label_ids=[label.pk])
    client = web_as(manager)

    def cards(query):
        html = client.get(column_url(pipeline, stages[0], query)).content.decode()
        return {deal.pk for deal in (mine, theirs, won, labelled) if f'id="card-{deal.pk}"' in html}

    assert cards("status=open") == {mine.pk, theirs.pk, labelled.pk}
    assert cards(f"status=open&owner={other_rep.pk}") == {theirs.pk}
    assert cards("status=won") == {won.pk}
    assert cards("status=all") == {mine.pk, theirs.pk, won.pk, labelled.pk}
    assert cards(f"status=open&label={label.pk}") == {labelled.pk}
    assert cards("status=open&close_from=2027-03-01&close_to=2027-03-31") == {mine.pk}
    summary = client.get(board_url(pipeline, owner=other_rep.pk)).content.decode()
    assert summary.count(">1 affaire<") == 1


def test_a_rep_sees_only_what_the_visibility_rule_allows(web_as, rep, other_rep, pipeline, stages):
    private = DealFactory(owner=other_rep, stage=stages[0], visible_to=Visibility.OWNER)
    shared = DealFactory(owner=other_rep, stage=stages[0], visible_to=Visibility.EVERYONE)
    html = web_as(rep).get(column_url(pipeline, stages[0])).content.decode()
    assert f'id="card-{shared.pk}"' in html and f'id="card-{private.pk}"' not in html
    board = web_as(rep).get(board_url(pipeline)).content.decode()
    assert ">1 affaire<" in board


def test_board_queries_do_not_grow_with_the_deals(
    web_as, rep, pipeline, stages, django_assert_max_num_queries
):
    client = web_as(rep)
    for stage in stages:
        DealFactory(owner=rep, stage=stage)
    client.get(board_url(pipeline))  # session and company caches
    # Session, user, company, the filters' options, saved filters, custom fields, totals.
    with django_assert_max_num_queries(11) as few:
        client.get(board_url(pipeline))
    with django_assert_max_num_queries(8) as few_column:
        client.get(column_url(pipeline, stages[0]))
    org = OrganizationFactory(owner=rep)
    for stage in stages:
        for _ in range(24):
            DealFactory(owner=rep, stage=stage, org=org)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(board_url(pipeline))
    with django_assert_max_num_queries(len(few_column.captured_queries)):
        response = client.get(column_url(pipeline, stages[0]))
    assert response.content.decode().count('<article class="card') == 20


def test_moving_a_card_saves_through_deal_update(web_as, rep, stages):
    deal = DealFactory(owner=rep, stage=stages[0])
    response = web_as(rep).post(
        f"/deals/{deal.pk}/move/", {"target": stages[2].pk}, HTTP_X_REQUESTED_WITH="fetch"
    )
    assert response.status_code == 200
    assert f'<option value="{stages[2].pk}" selected>' in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage_id == stages[2].pk
    assert deal.version == 2
    move = ChangeRecord.objects.get(entity="deal", entity_id=deal.pk, event="stage_moved")
    assert (move.old_value, move.new_value, move.actor_user_id) == (
        stages[0].pk,
        stages[2].pk,
        rep.pk,
    )
    assert StageEntry.objects.filter(deal=deal).count() == 2


def test_a_refused_move_changes_nothing_and_says_why(web_as, rep, stages, unchanged):
    deal = DealFactory(owner=rep, stage=stages[0])
    with unchanged(deal):
        response = web_as(rep).post(
            f"/deals/{deal.pk}/move/", {"target": 999999}, HTTP_X_REQUESTED_WITH="fetch"
        )
    assert response.status_code == 422
    assert response.content.decode() == "No such stage: 999999."


def test_the_keyboard_form_moves_without_script(web_as, rep, pipeline, stages):
    deal = DealFactory(owner=rep, stage=stages[0])
    back = f"/pipelines/{pipeline.pk}/board/?status=open"
    response = web_as(rep).post(f"/deals/{deal.pk}/move/", {"target": stages[1].pk, "next": back})
    assert response.status_code == 302 and response["Location"] == back
    deal.refresh_from_db()
    assert deal.stage_id == stages[1].pk


def test_won_and_lost_zones(web_as, rep, stages, loss_reason, unchanged):
    client = web_as(rep)
    deal = DealFactory(owner=rep, stage=stages[0])
    with unchanged(deal):
        refused = client.post(
            f"/deals/{deal.pk}/status/", {"status": "lost"}, HTTP_X_REQUESTED_WITH="fetch"
        )
    assert refused.status_code == 422
    assert (
        refused.content.decode()
        == "Une raison de perte est requise pour marquer une affaire perdue."
    )
    lost = client.post(
        f"/deals/{deal.pk}/status/",
        {"status": "lost", "lost_reason_id": loss_reason.pk},
        HTTP_X_REQUESTED_WITH="fetch",
    )
    assert lost.status_code == 204
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason_id, deal.probability) == ("lost", loss_reason.pk, 0)
    other = DealFactory(owner=rep, stage=stages[0])
    assert (
        client.post(
            f"/deals/{other.pk}/move/", {"target": "won"}, HTTP_X_REQUESTED_WITH="fetch"
        ).status_code
        == 204
    )
    other.refresh_from_db()
    assert other.status == "won"


def test_another_teams_private_deal_cannot_be_moved(web_as, rep, other_rep, stages, unchanged):
    private = DealFactory(owner=other_rep, stage=stages[0], visible_to=Visibility.OWNER)
    with unchanged(private):
        response = web_as(rep).post(
            f"/deals/{private.pk}/move/", {"target": stages[1].pk}, HTTP_X_REQUESTED_WITH="fetch"
        )
    assert response.status_code == 404


def test_home_opens_the_first_pipeline(web_as, rep, pipeline):
    response = web_as(rep).get("/")
    assert response.status_code == 302
    assert response["Location"] == f"/pipelines/{pipeline.pk}/board/"
