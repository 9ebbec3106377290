"""On PostgreSQL, invoices issued at the same time from many connections get consecutive numbers:
no gap, no duplicate. Each thread has its own database connection and its own transaction, so
they really race for the series row (SELECT ... FOR UPDATE)."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connection, connections
from django.utils import timezone

from ruche.billing import services
from ruche.billing.models import Invoice, NumberSeries
from ruche.core.history import Actor

COUNT = 50
WORKERS = 8

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent issuing is tested on PostgreSQL"
)


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_issues_get_consecutive_numbers(won_deal, rep, rep_actor):
    drafts = [
        services.invoice_create(actor=rep_actor, data={"deal_id": won_deal.pk}).pk
        for _ in range(COUNT)
    ]
    barrier = Barrier(WORKERS)

    def issue(chunk: list[int]) -> list[str]:
        try:
            barrier.wait(timeout=30)
            actor = Actor.for_user(rep)
            return [services.invoice_issue(actor=actor, invoice_id=pk).number for pk in chunk]
        finally:
            connections.close_all()

    chunks = [drafts[index::WORKERS] for index in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        numbers = [number for result in pool.map(issue, chunks) for number in result]

    year = timezone.localdate().year
    expected = [f"F{year}-{n:05d}" for n in range(1, COUNT + 1)]
    assert sorted(numbers) == expected
    stored = sorted(Invoice.objects.exclude(number="").values_list("number", flat=True))
    assert stored == expected
    assert NumberSeries.objects.get(key="invoice").last_number == COUNT
    # Chronological: in issue order, numbers only go up.
    by_time = list(
        Invoice.objects.order_by("issued_time", "number").values_list("number", flat=True)
    )
    assert by_time == sorted(by_time)
