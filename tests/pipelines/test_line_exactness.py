"""Two million lines, summed by the database, to the cent: why money is integer minor units."""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from ruche.core.money import to_major
from ruche.pipelines.models import DealLine
from ruche.pipelines.services import deal_line_add
from tests.factories import DealFactory

PER_PRICE = 1_000_000

# One statement on both SQLite and PostgreSQL: rows 1..1e6 cost 0.10, the next 1e6 cost 0.20.
INSERT_LINES = f"""
INSERT INTO {DealLine._meta.db_table}
    (deal_id, name, quantity, unit_price_minor, discount_percent, vat_rate,
     total_minor, vat_minor, order_nr, comments, add_time, update_time)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s)
SELECT %s, 'Ligne', 1, price, 0, 0, price, 0, i, '', %s, %s
FROM (SELECT i, CASE WHEN i <= %s THEN 10 ELSE 20 END AS price FROM n) AS priced
"""


@pytest.mark.slow
def test_two_million_lines_sum_exactly(rep, rep_actor):
    deal = DealFactory(owner=rep, title="Deux millions de lignes")
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(INSERT_LINES, [2 * PER_PRICE, deal.pk, now, now, PER_PRICE])
    lines = DealLine.objects.filter(deal=deal)
    assert lines.count() == 2 * PER_PRICE
    assert lines.filter(unit_price_minor=10).count() == PER_PRICE

    total = lines.aggregate(total=Sum("total_minor"))["total"]
    assert total == 30_000_000
    assert isinstance(total, int)
    assert to_major(total, "EUR") == Decimal("300000.00")
    assert str(to_major(total, "EUR")) == "300000.00"

    # The same sum in binary floating point drifts: what this design protects against.
    float_total = 0.0
    for _ in range(PER_PRICE):
        float_total += 0.10
    for _ in range(PER_PRICE):
        float_total += 0.20
    assert float_total != 300000.0
    assert abs(float_total - 300000.0) > 1e-6

    # The service that keeps the deal's value sums the same rows in the database.
    deal_line_add(actor=rep_actor, deal_id=deal.pk, data={"name": "Dernière", "unit_price": "0.01"})
    deal.refresh_from_db()
    assert deal.value_minor == 30_000_001
    assert to_major(deal.value_minor, deal.currency) == Decimal("300000.01")
