"""MRR's contracts and moves, and the MRR tally (MrrTally) kept in step with the deals.

MRR moves (new, expansion, contraction, churned: docs/metrics.md) are classified per customer,
from all of the customer's contracts the reader sees, so unlike the stage tallies they cannot be
summed per deal. But most customers are **shared**: every recurring contract of theirs is
visible to everyone, so every reader sees the same moves for them. MrrTally holds those summed
per month and currency; the moves of the other customers (**private**: one of their contracts
is visible to its owner or team only) are computed when read, from the contracts the reader may
see. A filter on owner, team, pipeline or stage picks some of a customer's contracts: with one,
every customer is computed when read.

Each write that may change a contract (its status, revenue type, recurring fields, won time,
currency, organisation, visibility or deletion) recomputes the tallied moves of the customers it
touches before and after it, and adds the difference, in the same transaction (`follow`, called
by ruche.forecasting.stage_tallies.tallies_follow); new deals add theirs (`tally_new`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from ruche.core.models import Visibility
from ruche.forecasting.models import MrrTally
from ruche.forecasting.periods import bucket_expression
from ruche.forecasting.tally_rows import add_to_tally, differing, stored_amounts
from ruche.pipelines.models import Deal

KEYS = ("month", "currency")
MOVES = ("new", "expansion", "contraction", "churned")
MEASURES = ("change", *MOVES)
# Every month a contract can start or end in: the tally holds a customer's whole history.
FIRST_MONTH, LAST_MONTH = 0, 12 * 10_000 - 1
# The filters that keep only some of a customer's contracts (not the currency: a customer is
# an organisation in one currency).
WITHIN_CUSTOMER_FILTERS = ("owner_id", "team_id", "pipeline_id", "stage_id")
# Beyond this many customers known before a write, it recomputes the whole tally (an import
# undone) rather than listing them in a query.
MAX_FOLLOWED = 500

CONTRACT = Q(
    status=Deal.Status.WON,
    revenue_type=Deal.RevenueType.RECURRING,
    recurring_monthly_minor__isnull=False,
    won_time__isnull=False,
    is_deleted=False,
)

# Per customer (organisation, or the deal itself without one) and currency with a change in
# the window: its MRR before the window (the contracts running then), the month-by-month change
# of its MRR in the window (contracts starting minus contracts ending), its MRR after each
# change (the opening MRR plus a running sum, a window function), and the change classified;
# then summed per month and currency. One more row per currency, at month first - 1, carries
# the whole MRR before the window: only the window's changes are ranked, not the history's.
# The opening MRR is summed for every customer and left-joined to the changes: keeping only
# the customers with a change cost a second pass over the changes. The MRR after a change is
# cast to an integer so that its comparisons are not done in numerics on PostgreSQL.
_MOVES_SQL = """
WITH contracts AS (
    SELECT customer, cur, start_month, start_month + term AS end_month, monthly
    FROM ({contracts}) AS recurring
),
events AS (
    SELECT customer, cur, start_month AS month, monthly AS delta FROM contracts
    WHERE start_month >= %s AND start_month <= %s
    UNION ALL
    SELECT customer, cur, end_month, -monthly FROM contracts
    WHERE end_month >= %s AND end_month <= %s
),
changes AS (
    SELECT customer, cur, month, CAST(SUM(delta) AS BIGINT) AS delta FROM events
    GROUP BY customer, cur, month
),
running_before AS (
    SELECT customer, cur, monthly FROM contracts
    WHERE start_month < %s AND (end_month IS NULL OR end_month >= %s)
),
opening AS (
    SELECT customer, cur, CAST(SUM(monthly) AS BIGINT) AS mrr FROM running_before
    GROUP BY customer, cur
),
running AS (
    SELECT changes.cur, changes.month, changes.delta,
           CAST(COALESCE(opening.mrr, 0) + SUM(changes.delta) OVER (
               PARTITION BY changes.customer, changes.cur ORDER BY changes.month
           ) AS BIGINT) AS after
    FROM changes
    LEFT JOIN opening ON opening.customer = changes.customer AND opening.cur = changes.cur
),
moves AS (
    SELECT month, cur,
        SUM(delta) AS change,
        SUM(CASE WHEN after - delta = 0 AND after > 0 THEN after ELSE 0 END) AS new,
        SUM(CASE WHEN after - delta > 0 AND after > 0 AND delta > 0 THEN delta ELSE 0 END)
            AS expansion,
        SUM(CASE WHEN after - delta > 0 AND after > 0 AND delta < 0 THEN -delta ELSE 0 END)
            AS contraction,
        SUM(CASE WHEN after - delta > 0 AND after = 0 THEN -delta ELSE 0 END) AS churned
    FROM running GROUP BY month, cur
    UNION ALL
    SELECT %s, cur, SUM(monthly), 0, 0, 0, 0 FROM running_before GROUP BY cur
    {tallied}
)
SELECT month, cur, SUM(change), SUM(new), SUM(expansion), SUM(contraction), SUM(churned)
FROM moves GROUP BY month, cur ORDER BY 1, 2
"""
# The tally's rows up to the window's last month, in the same statement (one snapshot): the
# months before the window count in the row of month first - 1, the MRR then, without moves.
_TALLIED_SQL = f"""
    UNION ALL
    SELECT CASE WHEN month < %s THEN %s ELSE month END, currency, change,
        {", ".join(f"CASE WHEN month < %s THEN 0 ELSE {move} END" for move in MOVES)}
    FROM {MrrTally._meta.db_table} WHERE month <= %s{{currency}}
"""


def contracts(deals: QuerySet[Deal]) -> QuerySet:
    """The recurring contracts among `deals` (won today), one row each: customer (the
    organisation, else minus the deal's id), currency, first month (start date, else won day),
    term in months (None: no term), monthly amount."""
    start = Coalesce(
        bucket_expression("recurring_start_date", "month", is_datetime=False),
        bucket_expression("won_time", "month", is_datetime=True),
    )
    return (
        deals.filter(CONTRACT)
        .annotate(
            customer=Coalesce(F("org_id"), Value(0) - F("pk")),
            cur=F("currency"),
            start_month=start,
            term=F("recurring_term_months"),
            monthly=F("recurring_monthly_minor"),
        )
        .values("customer", "cur", "start_month", "term", "monthly")
    )


def moves(
    deals: QuerySet[Deal], first: int, last: int, *, tallied: bool = False, currency=None
) -> list[tuple]:
    """(month index, currency, net change, new, expansion, contraction, churned) in minor
    units of the currency, for every month from `first` to `last` where some customer's MRR
    changed, after a row (month first - 1, currency, MRR then, 0, 0, 0, 0): one query over the
    contracts among `deals`, and with `tallied` the tally's moves too (of `currency` only,
    when given), added up per month and currency."""
    try:
        contracts_sql, params = contracts(deals).query.sql_with_params()
    except EmptyResultSet:  # no deal can match (an empty list of ids): the tally alone
        nothing = Deal.objects.filter(pk__isnull=True)
        contracts_sql, params = contracts(nothing).query.sql_with_params()
    window = [first, last, first, last, first, first, first - 1]
    tally_sql = ""
    if tallied:
        tally_sql = _TALLIED_SQL.format(currency="" if currency is None else " AND currency = %s")
        window += [first, first - 1, *[first] * len(MOVES), last]
        window += [] if currency is None else [currency]
    sql = _MOVES_SQL.format(contracts=contracts_sql, tallied=tally_sql)
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params, *window))
        # PostgreSQL sums (and EXTRACT) come back as numerics: integers here.
        return [(int(m), cur, *(int(v) for v in sums)) for m, cur, *sums in cursor.fetchall()]


# Shared and private customers ------------------------------------------------------------------


def _private_orgs(deals: QuerySet[Deal]):
    return (
        deals.filter(CONTRACT, org_id__isnull=False)
        .exclude(visible_to=Visibility.EVERYONE)
        .values("org_id")
    )


def private_customers() -> Q:
    """The deals of private customers: one of the customer's contracts is not visible to
    everyone. A customer is an organisation with all its currencies here, so that each
    (customer, currency) is wholly shared or wholly private."""
    return ~Q(visible_to=Visibility.EVERYONE) | Q(org_id__in=_private_orgs(Deal.objects.all()))


def _shared_customers(deals: QuerySet[Deal]) -> Q:
    return Q(visible_to=Visibility.EVERYONE) & (
        Q(org_id__isnull=True) | ~Q(org_id__in=_private_orgs(deals))
    )


def uses_tally(query) -> bool:
    """Whether the moves of the shared customers can be read from the tally: no filter of the
    query (a MetricQuery) keeps only some of a customer's contracts."""
    return all(getattr(query, name) is None for name in WITHIN_CUSTOMER_FILTERS)


# Keeping the tally ------------------------------------------------------------------------------


def _tally_of(customers: Q, without: Q | None = None) -> Counter:
    """{((month, currency), measure): amount} of the shared customers among `customers` (a
    filter on deals), their contracts `without` some deals counted as absent."""
    deals = Deal.objects.all() if without is None else Deal.objects.exclude(without)
    shared = deals.filter(customers).filter(_shared_customers(deals.filter(customers)))
    tally = Counter()
    for month, cur, *amounts in moves(shared, FIRST_MONTH, LAST_MONTH):
        for name, amount in zip(MEASURES, amounts, strict=True):
            tally[((month, cur), name)] += amount
    return tally


def _contract_orgs(deals: QuerySet[Deal]) -> set[int | None]:
    """The organisations of the contracts among `deals`; None for those without one."""
    return set(deals.filter(CONTRACT).values_list("org_id", flat=True))


def _customers(orgs: set[int | None], deals: QuerySet[Deal]) -> Q:
    """The deals of these organisations; with None, also those of `deals` without one (each
    its own customer)."""
    found = Q(org_id__in=[org for org in orgs if org is not None])
    if None in orgs:
        found |= Q(org_id__isnull=True, pk__in=deals.values("pk"))
    return found


def _add(amounts: Counter) -> None:
    add_to_tally(MrrTally, KEYS, MEASURES, amounts)


def _settle(deals: QuerySet[Deal], known: set[int | None], before: Counter) -> None:
    """After a write to `deals`: add the moves of their customers now, less `before`, those of
    the customers `known` before the write. The customers of the contracts among `deals` now
    are found by a subquery, however many; an organisation such a contract joined in the write
    counts as it was without the written deals."""
    if len(known) > MAX_FOLLOWED:
        rebuild()
        return
    now = deals.filter(CONTRACT)
    if not known and not now.exists():
        return
    now_orgs = Q(org_id__in=now.filter(org_id__isnull=False).values("org_id"))
    now_alone = Q(org_id__isnull=True, pk__in=now.values("pk"))
    after = _tally_of(_customers(known, deals) | now_orgs | now_alone)
    after.subtract(before)  # Counter.subtract, not `-`: moves can be negative
    joined = now_orgs & ~Q(org_id__in=[org for org in known if org is not None])
    after.subtract(_tally_of(joined, without=Q(pk__in=deals.values("pk"))))
    _add(after)


@contextmanager
def follow(deals: QuerySet[Deal]) -> Iterator[None]:
    """Around a write to `deals`: their customers' tallied moves before it are replaced by
    those after it. The caller has taken the writers' turn."""
    known = _contract_orgs(deals)
    listed = 0 < len(known) <= MAX_FOLLOWED  # beyond, _settle computes the whole tally
    before = _tally_of(_customers(known, deals)) if listed else Counter()
    yield
    _settle(deals, known, before)


def tally_new(deals: QuerySet[Deal]) -> None:
    """Add the moves that new deals bring to their customers."""
    _settle(deals, set(), Counter())


def rebuild() -> None:
    """Compute the whole tally again from the contracts. The caller holds the writers' turn
    (ruche.forecasting.stage_tallies.rebuild_all)."""
    MrrTally.objects.all().delete()
    _add(_tally_of(Q()))


def drift() -> int:
    """How many tallied amounts differ from those computed again from the contracts."""
    kept = stored_amounts(MrrTally, KEYS, MEASURES)
    return differing(kept, _tally_of(Q()))
