"""Records are matched across chunks through the database (ruche.transfer.keys), not kept in
memory: an organisation, person or deal created in one chunk is found from the next ones."""

from ruche.contacts.models import Organization, Person
from ruche.pipelines.models import Deal
from ruche.transfer import importers
from tests.factories import OrganizationFactory

DEALS = (
    "Réf;Intitulé;Société;Contact;E-mail\n"
    "C1;Un;Acme SAS;Jean Dupont;jean@acme.fr\n"
    "C2;Deux;ACME;Jean Dupont;JEAN@acme.fr\n"
    "C3;Trois;Beta;Paul Martin;paul@beta.fr\n"
    "C4;Quatre;Vieille Maison;Paul Martin;\n"
    "C1;Un bis;Acme;;\n"
)


def test_matches_across_chunks_and_existing_records(run_import, admin, stages, monkeypatch):
    monkeypatch.setattr(importers, "BATCH", 2)
    old = OrganizationFactory(name="Vieille Maison SARL")
    _, report = run_import("deals", DEALS)
    assert (report.status, report.rows, report.created, report.updated) == ("done", 5, 4, 1)
    assert report.related_created == {"organization": 2, "person": 2}
    assert sorted(Organization.objects.values_list("name", flat=True)) == [
        "Acme SAS",
        "Beta",
        "Vieille Maison SARL",
    ]
    acme = Organization.objects.get(name="Acme SAS")
    jean, paul = Person.objects.get(name="Jean Dupont"), Person.objects.get(name="Paul Martin")
    assert sorted(Deal.objects.values_list("external_id", "title", "org_id", "person_id")) == [
        ("C1", "Un bis", acme.pk, jean.pk),
        ("C2", "Deux", acme.pk, jean.pk),
        ("C3", "Trois", Organization.objects.get(name="Beta").pk, paul.pk),
        ("C4", "Quatre", old.pk, paul.pk),
    ]
