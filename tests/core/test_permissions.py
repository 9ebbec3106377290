"""The one visibility rule (ruche.core.permissions) as the selectors apply it."""

import pytest

from ruche.accounts.models import User
from ruche.contacts.models import Organization
from ruche.core.exceptions import NotFound, ValidationError
from ruche.core.models import Visibility
from ruche.core.permissions import restrict
from ruche.pipelines.selectors import access_deal_by_id, activity_queryset, deal_queryset
from ruche.pipelines.services import (
    activity_create,
    deal_delete,
    deal_line_add,
    deal_mark_won,
    deal_update,
)
from tests.factories import DealFactory, OrganizationFactory, UserFactory

OWNER, TEAM, EVERYONE = Visibility.OWNER, Visibility.TEAM, Visibility.EVERYONE


@pytest.fixture
def rep2(nord):
    return UserFactory(email="rep2@ruche.test", team=nord)


@pytest.fixture
def loner(db):
    return UserFactory(email="loner@ruche.test", team=None)


@pytest.fixture
def deals(rep, rep2, manager, other_rep, admin_actor):
    made = {
        "rep_owner": DealFactory(owner=rep, visible_to=OWNER),
        "rep_team": DealFactory(owner=rep, visible_to=TEAM),
        "rep2_owner": DealFactory(owner=rep2, visible_to=OWNER),
        "rep2_team": DealFactory(owner=rep2, visible_to=TEAM),
        "rep2_all": DealFactory(owner=rep2, visible_to=EVERYONE),
        "mgr_owner": DealFactory(owner=manager, visible_to=OWNER),
        "sud_owner": DealFactory(owner=other_rep, visible_to=OWNER),
        "sud_team": DealFactory(owner=other_rep, visible_to=TEAM),
        "sud_all": DealFactory(owner=other_rep, visible_to=EVERYONE),
    }
    deleted = DealFactory(owner=rep, visible_to=EVERYONE)
    deal_delete(actor=admin_actor, deal_id=deleted.pk)
    return made


def visible(user, deals):
    names = {deal.pk: name for name, deal in deals.items()}
    return {names.get(pk, pk) for pk in deal_queryset(user).values_list("pk", flat=True)}


ALL = {
    "rep_owner",
    "rep_team",
    "rep2_owner",
    "rep2_team",
    "rep2_all",
    "mgr_owner",
    "sud_owner",
    "sud_team",
    "sud_all",
}


def test_admin_and_system_jobs_see_everything_but_deleted_deals(admin, deals):
    assert visible(admin, deals) == ALL
    assert visible(None, deals) == ALL


def test_rep_sees_everyone_visible_own_and_own_team_visible(rep, deals):
    assert visible(rep, deals) == {"rep_owner", "rep_team", "rep2_team", "rep2_all", "sud_all"}


def test_manager_sees_everything_owned_by_the_team(manager, deals):
    assert visible(manager, deals) == {
        "rep_owner",
        "rep_team",
        "rep2_owner",
        "rep2_team",
        "rep2_all",
        "mgr_owner",
        "sud_all",
    }


def test_other_team_rep(other_rep, deals):
    assert visible(other_rep, deals) == {"sud_owner", "sud_team", "sud_all", "rep2_all"}


def test_a_user_without_team_sees_only_everyone_visible(loner, deals):
    assert visible(loner, deals) == {"rep2_all", "sud_all"}


def test_a_manager_of_another_team_sees_nothing_of_nord(sud, deals):
    sud_manager = UserFactory(role=User.Role.MANAGER, team=sud)
    assert visible(sud_manager, deals) == {"sud_owner", "sud_team", "sud_all", "rep2_all"}


def test_hidden_deal_is_not_found_like_a_missing_one(rep, deals):
    hidden = deals["sud_team"]
    with pytest.raises(NotFound) as hidden_error:
        access_deal_by_id(rep, hidden.pk)
    missing_id = max(d.pk for d in deals.values()) + 1000
    with pytest.raises(NotFound) as missing_error:
        access_deal_by_id(rep, missing_id)
    assert str(hidden_error.value) == f"Deal {hidden.pk} not found."
    assert str(missing_error.value) == f"Deal {missing_id} not found."
    assert hidden_error.value.status_code == missing_error.value.status_code == 404
    assert access_deal_by_id(rep, deals["sud_all"].pk) == deals["sud_all"]
    with pytest.raises(NotFound):
        access_deal_by_id(rep, str(deals["sud_all"].pk))


def test_rep_cannot_change_a_deal_of_another_team(rep_actor, deals, unchanged):
    hidden = deals["sud_team"]
    actor = rep_actor
    calls = [
        lambda: deal_update(actor=actor, deal_id=hidden.pk, data={"title": "Volé"}),
        lambda: deal_mark_won(actor=actor, deal_id=hidden.pk),
        lambda: deal_line_add(
            actor=actor, deal_id=hidden.pk, data={"name": "x", "unit_price": "1"}
        ),
        lambda: deal_delete(actor=actor, deal_id=hidden.pk),
    ]
    for call in calls:
        with unchanged(hidden), pytest.raises(NotFound, match=f"Deal {hidden.pk} not found"):
            call()


def test_rep_cannot_attach_an_activity_to_a_hidden_deal(rep, rep_actor, deals, unchanged):
    hidden = deals["sud_owner"]
    with unchanged(hidden), pytest.raises(ValidationError) as error:
        activity_create(actor=rep_actor, data={"subject": "Appel", "deal_id": hidden.pk})
    assert error.value.field_errors == {"deal_id": f"No such deal: {hidden.pk}."}


def test_organizations_follow_the_same_rule(rep, manager, other_rep):
    mine = OrganizationFactory(owner=rep, visible_to=OWNER)
    sud_team = OrganizationFactory(owner=other_rep, visible_to=TEAM)
    public = OrganizationFactory(owner=other_rep, visible_to=EVERYONE)
    deleted = OrganizationFactory(owner=rep, visible_to=EVERYONE, is_deleted=True)
    ids = {mine.pk, sud_team.pk, public.pk, deleted.pk}

    def seen(user):
        return set(
            restrict(Organization.objects.filter(pk__in=ids), user).values_list("pk", flat=True)
        )

    assert seen(rep) == {mine.pk, public.pk}
    assert seen(manager) == {mine.pk, public.pk}
    assert seen(other_rep) == {sud_team.pk, public.pk}


def test_activities_are_visible_through_their_deal(
    rep, rep_actor, manager, other_rep, other_rep_actor, admin
):
    nord_deal = DealFactory(owner=rep, visible_to=TEAM)
    on_deal = activity_create(actor=rep_actor, data={"subject": "Démo", "deal_id": nord_deal.pk})
    unlinked = activity_create(actor=rep_actor, data={"subject": "Pense-bête"})
    sud_unlinked = activity_create(actor=other_rep_actor, data={"subject": "Sud"})

    def seen(user):
        return set(activity_queryset(user).values_list("pk", flat=True))

    assert seen(rep) == {on_deal.pk, unlinked.pk}
    assert seen(manager) == {on_deal.pk, unlinked.pk}
    assert seen(other_rep) == {sud_unlinked.pk}
    assert seen(admin) == {on_deal.pk, unlinked.pk, sud_unlinked.pk}
