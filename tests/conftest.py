"""Shared fixtures. The standard pipeline and default lookups are installed by the post_migrate
hook, so they exist in the test database; the users below are created per test.

    def test_something(rep, rep_actor, stages):
        deal = DealFactory(owner=rep, stage=stages[1])
"""

from contextlib import contextmanager

import pytest
from django.forms.models import model_to_dict

from ruche.accounts.models import Company, User
from ruche.core.history import Actor
from ruche.core.models import ChangeRecord, Lookup
from ruche.forecasting.models import MrrTally, StageEntryTally, StageStayTally
from ruche.pipelines.models import Activity, Deal, DealLine, Pipeline, Stage, StageEntry
from tests.browser import browser, page_as  # noqa: F401 - fixtures of the browser tests
from tests.factories import TeamFactory, UserFactory


@pytest.fixture(autouse=True)
def _own_var_dir(settings, tmp_path):
    """Import uploads and progress files live under VAR_DIR, named by run id: tests running side
    by side (each with its own database, so the same ids) must not share them."""
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def company(db) -> Company:
    return Company.current()


@pytest.fixture
def nord(db):
    return TeamFactory(name="Nord")


@pytest.fixture
def sud(db):
    return TeamFactory(name="Sud")


@pytest.fixture
def admin(db) -> User:
    return UserFactory(email="admin@ruche.test", name="Admin", role=User.Role.ADMIN)


@pytest.fixture
def manager(nord) -> User:
    return UserFactory(
        email="manager@ruche.test", name="Manon Nord", role=User.Role.MANAGER, team=nord
    )


@pytest.fixture
def rep(nord) -> User:
    return UserFactory(email="rep@ruche.test", name="Rémi Nord", role=User.Role.REP, team=nord)


@pytest.fixture
def other_rep(sud) -> User:
    return UserFactory(email="other@ruche.test", name="Sarah Sud", role=User.Role.REP, team=sud)


@pytest.fixture
def actor_for():
    """`actor_for(user)`: the Actor a service receives when `user` acts in the browser."""
    return Actor.for_user


@pytest.fixture
def admin_actor(admin) -> Actor:
    return Actor.for_user(admin)


@pytest.fixture
def manager_actor(manager) -> Actor:
    return Actor.for_user(manager)


@pytest.fixture
def rep_actor(rep) -> Actor:
    return Actor.for_user(rep)


@pytest.fixture
def other_rep_actor(other_rep) -> Actor:
    return Actor.for_user(other_rep)


@pytest.fixture
def pipeline(db) -> Pipeline:
    """The standard pipeline installed by post_migrate."""
    return Pipeline.objects.filter(is_deleted=False).order_by("order_nr", "id").first()


@pytest.fixture
def stages(pipeline) -> list[Stage]:
    """Lead, Prospect, Meeting, Qualified / quote sent, Negotiation, in order."""
    return list(pipeline.stages.filter(is_deleted=False).order_by("order_nr", "id"))


@pytest.fixture
def loss_reason(db) -> Lookup:
    return Lookup.objects.get(kind=Lookup.Kind.LOSS_REASON, name="Prix trop élevé")


@pytest.fixture
def source(db) -> Lookup:
    return Lookup.objects.get(kind=Lookup.Kind.SOURCE, name="Salon")


def _state(instance) -> dict:
    fresh = type(instance).objects.get(pk=instance.pk)
    return model_to_dict(fresh) | {"version": getattr(fresh, "version", None)}


@pytest.fixture
def unchanged():
    """`with unchanged(deal, org), pytest.raises(ValidationError): ...` asserts that the refused
    call left the given rows, and every history, stage-entry, tally, line and activity row, as
    they were. Put `pytest.raises` last so the error is caught before the comparison."""

    @contextmanager
    def check(*instances):
        def snapshot():
            return {
                "rows": [_state(instance) for instance in instances],
                "history": list(ChangeRecord.objects.values_list("pk", flat=True)),
                "stage_entries": list(StageEntry.objects.values()),
                "stage_tallies": list(StageEntryTally.objects.values())
                + list(StageStayTally.objects.values()),
                "mrr_tally": list(MrrTally.objects.values()),
                "lines": list(DealLine.objects.values()),
                "activities": list(Activity.objects.values()),
                "deals": Deal.objects.count(),
            }

        before = snapshot()
        yield
        assert snapshot() == before

    return check
