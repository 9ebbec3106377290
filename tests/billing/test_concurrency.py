"""On PostgreSQL, 50 invoices issued at the same time from several PROCESSES get 50 consecutive
numbers: no gap, no duplicate. Each process is a new interpreter (spawn) with its own Django and
its own connection to the test database, so they really race for the series row
(SELECT ... FOR UPDATE) as separate web workers would."""

import multiprocessing
import queue

import pytest
from django.db import connection
from django.utils import timezone

from ruche.billing import services
from ruche.billing.models import Invoice, NumberSeries
from tests.billing.issuing_process import issue_in_this_process

COUNT = 50
PROCESSES = 5

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent issuing is tested on PostgreSQL"
)


def drafts(actor, customer, count: int) -> list[int]:
    line = {"name": "Abonnement", "unit_price": "10", "vat_rate": 20}
    return [
        services.invoice_create(actor=actor, data={"org_id": customer.pk, "lines": [line]}).pk
        for _ in range(count)
    ]


@pytest.mark.django_db(transaction=True)
def test_fifty_invoices_issued_from_several_processes_get_consecutive_numbers(
    profile, customer, rep, rep_actor
):
    pks = drafts(rep_actor, customer, COUNT)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    database = connection.settings_dict["NAME"]
    workers = [
        context.Process(
            target=issue_in_this_process,
            args=(database, rep.pk, pks[index::PROCESSES], barrier, results),
        )
        for index in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    issued = []
    try:
        while len(issued) < COUNT:
            issued.append(results.get(timeout=120))
    except queue.Empty:
        pytest.fail(f"only {len(issued)} of {COUNT} invoices were issued")
    finally:
        for worker in workers:
            worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES
    assert len({pid for pid, _ in issued}) == PROCESSES  # really issued from 5 processes

    year = timezone.localdate().year
    expected = [f"F{year}-{n:05d}" for n in range(1, COUNT + 1)]
    assert sorted(number for _, number in issued) == expected
    stored = sorted(Invoice.objects.exclude(number="").values_list("number", flat=True))
    assert stored == expected
    assert NumberSeries.objects.get(key="invoice").last_number == COUNT
    # Chronological: in issue order, numbers only go up.
    by_time = list(
        Invoice.objects.order_by("issued_time", "number").values_list("number", flat=True)
    )
    assert by_time == sorted(by_time)
