"""Records are matched across chunks through the database (ruche.transfer.keys), not kept in
memory: an organisation, person or deal created in one chunk is found from the next ones."""

from django.db import connection

from ruche.contacts.models import Organization, Person
from ruche.pipelines.models import Deal
from ruche.transfer import importers, keys
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


def test_existing_records_are_copied_in_batches_while_streamed(
    run_import, admin, stages, monkeypatch
):
    """The keys of existing records stream from one query into the table, a batch at a time
    (on PostgreSQL a COPY cannot run while the query's cursor is read)."""
    monkeypatch.setattr(importers, "BATCH", 2)
    monkeypatch.setattr(keys, "INSERT_BATCH", 2)
    old = [OrganizationFactory(name=f"Maison {i} SARL") for i in range(5)]
    rows = "".join(f"D{i};Affaire {i};Maison {i}\n" for i in (4, 0, 2))
    _, report = run_import("deals", "Réf;Intitulé;Société\n" + rows + "D9;Neuve;Maison 9\n")
    assert (report.status, report.created, report.related_created) == (
        "done",
        4,
        {"organization": 1},
    )
    assert sorted(Deal.objects.values_list("external_id", "org__name")) == [
        ("D0", "Maison 0 SARL"),
        ("D2", "Maison 2 SARL"),
        ("D4", "Maison 4 SARL"),
        ("D9", "Maison 9"),
    ]
    assert Organization.objects.count() == 6
    assert Deal.objects.get(external_id="D4").org_id == old[4].pk


def test_a_lookup_is_one_statement_whatever_the_number_of_keys(db):
    """Keys travel as one list parameter: the database prepares one statement, where a
    placeholder per key made a new one for each length (SQLite's cache grew with the file)."""
    statements = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    store = keys.KeyStore()
    try:
        store.insert([("organization.name", f"org {i}", 100 + i) for i in range(700)])
        store.insert([("organization.name", "org 3", 99), ("person.name", "org 5", 1)])
        with connection.execute_wrapper(record):
            few = store.lookup("organization.name", ["org 3", "missing"])
            many = store.lookup("organization.name", [f"org {i}" for i in range(650)])
    finally:
        store.close()
    assert few == {"org 3": 99}  # the lowest id wins
    assert many == {f"org {i}": 100 + i for i in range(650)} | {"org 3": 99}
    assert len(statements) == 2
    assert statements[0] == statements[1]
