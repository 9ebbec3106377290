"""factory_boy factories. Deals are created through `deal_create`, so their stage, pipeline,
stage entry and history are the ones the services would write.

    deal = DealFactory(owner=rep, value="1200.00")
    deal = DealFactory(owner=rep, org=org, visible_to=Visibility.TEAM, stage=stages[2])
"""

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from ruche.accounts.models import Team, User
from ruche.catalog.models import Product
from ruche.contacts.models import Organization, Person
from ruche.core.history import Actor
from ruche.core.models import Visibility
from ruche.pipelines.models import Deal

# Rows the factories write on their own behalf are recorded as a system job.
FACTORY_ACTOR = Actor.for_job("factory")


class TeamFactory(DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@ruche.test")
    name = factory.Faker("name", locale="fr_FR")
    role = User.Role.REP
    team = None
    is_staff = factory.LazyAttribute(lambda user: user.role == User.Role.ADMIN)
    is_superuser = factory.LazyAttribute(lambda user: user.role == User.Role.ADMIN)
    password = factory.django.Password(None)


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Société {n}")
    owner = factory.SubFactory(UserFactory)
    visible_to = Visibility.EVERYONE
    country = "FR"


class PersonFactory(DjangoModelFactory):
    class Meta:
        model = Person

    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    name = factory.LazyAttribute(lambda person: f"{person.first_name} {person.last_name}")
    owner = factory.SubFactory(UserFactory)
    visible_to = Visibility.EVERYONE


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Produit {n}")
    code = factory.Sequence(lambda n: f"P{n:04d}")
    unit_price_minor = 10_000  # 100.00
    currency = "EUR"
    vat_rate = Decimal("20.00")


class DealFactory(factory.Factory):
    """Builds the `data` of `deal_create` from model-like attributes and calls the service.

    `stage` (or `pipeline`, meaning its first stage) places the deal; the standard pipeline's
    first stage otherwise. `value` is in major units. Any other service input (status,
    lost_reason_id, probability, expected_close_date, ...) can be passed as a keyword."""

    class Meta:
        model = Deal

    title = factory.Sequence(lambda n: f"Affaire {n}")
    owner = factory.SubFactory(UserFactory)
    visible_to = Visibility.EVERYONE
    currency = "EUR"
    value = "0"
    org = None
    person = None
    pipeline = None
    stage = None

    @classmethod
    def _build(cls, model_class, **kwargs):
        raise NotImplementedError("DealFactory creates deals through deal_create only.")

    @classmethod
    def _create(cls, model_class, *, actor=None, **kwargs):
        from ruche.pipelines.services import deal_create

        data = {}
        for relation in ("owner", "org", "person", "pipeline", "stage"):
            related = kwargs.pop(relation)
            if related is not None:
                data[f"{relation}_id"] = related.pk
        data.update(kwargs)
        return deal_create(actor=actor or FACTORY_ACTOR, data=data)
