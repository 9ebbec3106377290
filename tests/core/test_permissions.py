"""The one visibility rule (ruche.core.permissions) as the selectors apply it."""

import pytest
from django.db.models import F

from ruche.accounts.models import User
from ruche.contacts.models import Organization
from ruche.core.exceptions import NotFound, ValidationError
from ruche.core.models import Visibility
from ruche.core.permissions import linked_record_q, restrict
from ruche.pipelines.models import Activity
from ruche.pipelines.selectors import (
    access_deal_by_id,
    activity_parts,
    activity_queryset,
    deal_queryset,
)
from ruche.pipelines.services import (
    activity_create,
    activity_update,
    deal_delete,
    deal_line_add,
    deal_mark_won,
    deal_update,
)
from tests.factories import DealFactory, OrganizationFactory, PersonFactory, UserFactory

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


@pytest.fixture
def linked_activities(deals, rep, other_rep, admin_actor, rep_actor, other_rep_actor):
    """An activity on each deal, on a person and an organisation of each visibility (no deal),
    and unlinked ones of two owners."""

    def add(actor, **links):
        return activity_create(actor=actor, data={"subject": "Suivi", **links}).pk

    made = {f"on_{name}": add(admin_actor, deal_id=deal.pk) for name, deal in deals.items()}
    for owner, who in ((rep, "rep"), (other_rep, "sud")):
        for visibility, label in ((OWNER, "owner"), (TEAM, "team")):
            person = PersonFactory(owner=owner, visible_to=visibility)
            org = OrganizationFactory(owner=owner, visible_to=visibility)
            made[f"person_{who}_{label}"] = add(admin_actor, person_id=person.pk)
            made[f"org_{who}_{label}"] = add(admin_actor, org_id=org.pk)
    made["unlinked_rep"] = add(rep_actor)
    made["unlinked_sud"] = add(other_rep_actor)
    return made


def through_joins(user) -> set[int]:
    """The activities the rule lets `user` see, read through the deals themselves."""
    visible = Activity.objects.filter(linked_record_q(user), is_deleted=False)
    return set(visible.values_list("pk", flat=True))


READERS = ("admin", "manager", "rep", "rep2", "other_rep", "loner")


def assert_copies_agree(request):
    for name in READERS:
        user = request.getfixturevalue(name)
        visible = set(activity_queryset(user).values_list("pk", flat=True))
        assert visible == through_joins(user)
        public, others = (set(p.values_list("pk", flat=True)) for p in activity_parts(user))
        assert public | others == visible and not public & others
    stale = Activity.objects.exclude(
        deal_owner=F("deal__owner"), deal_visible_to=F("deal__visible_to")
    )
    assert not stale.filter(deal__isnull=False).exists()
    assert not Activity.objects.filter(deal__isnull=True, deal_owner__isnull=False).exists()
    public = Activity.objects.filter(deal_public=True).values_list("pk", flat=True)
    of_public_deals = Activity.objects.filter(deal__visible_to=EVERYONE)
    assert set(public) == set(of_public_deals.values_list("pk", flat=True))


def test_activities_read_their_deals_owner_and_visibility_from_their_copy(
    request, linked_activities, deals, rep, other_rep
):
    names = {pk: name for name, pk in linked_activities.items()}
    seen = {names[pk] for pk in activity_queryset(rep).values_list("pk", flat=True)}
    assert seen == {
        *(f"on_{name}" for name in ("rep_owner", "rep_team", "rep2_team", "rep2_all", "sud_all")),
        "person_rep_owner",
        "person_rep_team",
        "org_rep_owner",
        "org_rep_team",
        "unlinked_rep",
    }
    assert_copies_agree(request)


def test_the_copy_follows_the_deal_and_the_activity(
    request, linked_activities, deals, admin_actor, other_rep
):
    deal_update(actor=admin_actor, deal_id=deals["rep_owner"].pk, data={"owner_id": other_rep.pk})
    deal_update(actor=admin_actor, deal_id=deals["sud_owner"].pk, data={"visible_to": EVERYONE})
    activity_update(
        actor=admin_actor,
        activity_id=linked_activities["on_rep2_owner"],
        data={"deal_id": deals["sud_team"].pk},
    )
    activity_update(
        actor=admin_actor, activity_id=linked_activities["on_mgr_owner"], data={"deal_id": None}
    )
    assert Activity.objects.get(pk=linked_activities["on_rep_owner"]).deal_owner == other_rep
    assert_copies_agree(request)
