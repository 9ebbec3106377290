"""The stage tallies (StageEntryTally, StageStayTally) kept in step with the deals.

What a deal adds to the tallies depends on its stage entries and on its owner, visibility,
currency, status, pipeline, won and close times and deletion. Every write that may change one
of those reads the deal's contribution before and after and adds the difference, in the same
transaction (`tallies_follow`); new deals add theirs (`tally_deals`). A contribution is computed
in SQL, with the window functions the indicators would otherwise run over every entry of a
period. A stage's order decides which later stage is "further": reordering a pipeline's stages
rebuilds that pipeline's tallies (`rebuild`).

The same two calls keep the MRR tally (ruche.forecasting.mrr_tallies) in step: they are what
every deal write already goes through.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Case, Count, F, Q, QuerySet, Sum, Value, When

from ruche.core.expressions import microseconds_between
from ruche.forecasting import mrr_tallies
from ruche.forecasting.models import NO_EARLIER_ENTRY, StageEntryTally, StageStayTally
from ruche.forecasting.periods import local_day_expression, raw_day
from ruche.forecasting.tally_rows import add_to_tally, differing, stored_amounts
from ruche.pipelines.models import Deal, StageEntry

ENTRY_MEASURES = ("entries", "reached", "won", "to_won_us")
STAY_MEASURES = ("stays", "stay_us")
KEYS = ("day", "pipeline_id", "stage_id", "owner_id", "visible_to", "currency")

# What the history-based figures read of an entry, shared with the indicators' fallback on
# the entries (ruche.forecasting.metrics): whether its deal is won in the entry's pipeline;
# whether its stay ended, with a move out or with the deal's close in the stage it was won or
# lost in; and whether the deal went further afterwards, from `furthest`, the highest stage
# order it entered in the same pipeline at the entry or later (a running maximum).
WON_HERE = Q(deal__status=Deal.Status.WON, deal__pipeline_id=F("pipeline_id"))
MOVED_OUT = Q(left_at__isnull=False)
CLOSED_IN = Q(
    left_at__isnull=True,
    deal__status__in=[Deal.Status.WON, Deal.Status.LOST],
    deal__close_time__isnull=False,
)
FURTHEST_SQL = """MAX(order_key) OVER (
    PARTITION BY deal_key, pipeline_key ORDER BY entered
    RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
)"""
REACHED_SQL = "CASE WHEN furthest > order_key OR won_here = 1 THEN 1 ELSE 0 END"

# Per entry, `furthest` and `prev_day`, the day of the deal's previous entry into the same
# stage; then summed per tally key.
_ENTRIES_SQL = f"""
WITH entries AS ({{entries}}),
ranked AS (
    SELECT entries.*, {FURTHEST_SQL} AS furthest,
        LAG(entry_day) OVER (
            PARTITION BY deal_key, stage_key ORDER BY entered, entry_key
        ) AS prev_day
    FROM entries
)
SELECT entry_day, pipeline_key, stage_key, owner_key, visible, cur, prev_day,
    COUNT(*), SUM({REACHED_SQL}), SUM(won_here), SUM(to_won)
FROM ranked
GROUP BY entry_day, pipeline_key, stage_key, owner_key, visible, cur, prev_day
"""

Tallies = tuple[Counter, Counter]  # (entry tallies, stay tallies): {(key, measure): amount}


def _entries(scope: Q) -> QuerySet[StageEntry]:
    return StageEntry.objects.filter(scope, deal__is_deleted=False)


def _entry_tallies(scope: Q) -> Counter:
    columns = {
        "deal_key": F("deal_id"),
        "pipeline_key": F("pipeline_id"),
        "stage_key": F("stage_id"),
        "order_key": F("stage__order_nr"),
        "entered": F("entered_at"),
        "entry_key": F("id"),
        "entry_day": local_day_expression("entered_at"),
        "owner_key": F("deal__owner_id"),
        "visible": F("deal__visible_to"),
        "cur": F("deal__currency"),
        "won_here": Case(When(WON_HERE, then=Value(1)), default=Value(0)),
        "to_won": Case(
            When(WON_HERE, then=microseconds_between("deal__won_time", "entered_at")),
            default=Value(0),
        ),
    }
    try:
        sql, params = (
            _entries(scope).annotate(**columns).values(*columns).order_by().query.sql_with_params()
        )
    except EmptyResultSet:  # no deal in scope
        return Counter()
    with connection.cursor() as cursor:
        cursor.execute(_ENTRIES_SQL.format(entries=sql), params)
        rows = cursor.fetchall()
    tallies = Counter()
    for day, pipeline, stage, owner, visible, cur, prev_day, *measures in rows:
        prev = NO_EARLIER_ENTRY if prev_day is None else raw_day(prev_day)
        key = (raw_day(day), pipeline, stage, owner, visible, cur, prev)
        for name, amount in zip(ENTRY_MEASURES, measures, strict=True):
            tallies[(key, name)] += int(amount or 0)
    return tallies


def _stay_tallies(scope: Q) -> Counter:
    rows = (
        _entries(scope)
        .filter(MOVED_OUT | CLOSED_IN)
        .annotate(
            end_day=Case(
                When(MOVED_OUT, then=local_day_expression("left_at")),
                default=local_day_expression("deal__close_time"),
            ),
            length=Case(
                When(MOVED_OUT, then=microseconds_between("left_at", "entered_at")),
                default=microseconds_between("deal__close_time", "entered_at"),
            ),
        )
        .values_list(
            "end_day",
            "pipeline_id",
            "stage_id",
            "deal__owner_id",
            "deal__visible_to",
            "deal__currency",
        )
        .annotate(stays=Count("pk"), stay_us=Sum("length"))
        .order_by()
    )
    tallies = Counter()
    for day, pipeline, stage, owner, visible, cur, stays, stay_us in rows:
        key = (raw_day(day), pipeline, stage, owner, visible, cur)
        tallies[(key, "stays")] += stays
        tallies[(key, "stay_us")] += int(stay_us)
    return tallies


def _tallies(scope: Q) -> Tallies:
    return _entry_tallies(scope), _stay_tallies(scope)


# On PostgreSQL the transactions that write deals take turns, from their first deal write to
# their commit, as SQLite's IMMEDIATE transactions already do. A tally row is shared by the
# deals of one day, stage, owner and visibility: two transactions changing several deals each
# would otherwise lock those rows in opposite orders (a deadlock), and a rebuild could miss, or
# count twice, a deal written while it runs. Every deal write takes the turn first, before it
# locks any deal row.
_WRITERS_TURN = 0x52756368


def take_writers_turn() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_WRITERS_TURN])


def _apply(after: Tallies, before: Tallies | None = None) -> None:
    entries, stays = after
    if before is not None:
        entries, stays = entries.copy(), stays.copy()
        entries.subtract(before[0])
        stays.subtract(before[1])
    add_to_tally(StageEntryTally, (*KEYS, "prev_day"), ENTRY_MEASURES, entries)
    add_to_tally(StageStayTally, KEYS, STAY_MEASURES, stays)


def _deals(scope: Q) -> QuerySet[Deal]:
    return Deal.objects.filter(pk__in=StageEntry.objects.filter(scope).values("deal_id"))


@contextmanager
def tallies_follow(scope: Q, *, stages: bool = True, mrr: bool = True) -> Iterator[None]:
    """Around a change to some deals (`scope`, a filter on their stage entries such as
    Q(deal_id=7)): their stage tallies before the change are replaced by those after it, and
    so are their customers' MRR moves (either alone when the change cannot touch the other).
    The caller has taken the writers' turn (take_writers_turn), so that no other write comes
    between."""
    before = _tallies(scope) if stages else None
    with mrr_tallies.follow(_deals(scope)) if mrr else nullcontext():
        yield
    if stages:
        _apply(_tallies(scope), before)


def tally_deals(scope: Q) -> None:
    """Add the tallies of new deals (their entries written without `tallies_follow`), and the
    MRR moves they bring."""
    _apply(_tallies(scope))
    mrr_tallies.tally_new(_deals(scope))


@transaction.atomic
def rebuild(pipeline_id: int | None = None) -> None:
    """Compute the stage tallies again from the entries: of one pipeline, or all."""
    take_writers_turn()
    scope = Q() if pipeline_id is None else Q(pipeline_id=pipeline_id)
    for model in (StageEntryTally, StageStayTally):
        model.objects.filter(scope).delete()
    _apply(_tallies(scope))


@transaction.atomic
def rebuild_all() -> None:
    """Compute every tally again: the stage tallies and the MRR tally."""
    rebuild()
    mrr_tallies.rebuild()


def drift() -> int:
    """How many tally amounts (stage and MRR) differ from those computed again from the
    entries and contracts: 0 unless a write went around the services, or the company's time
    zone changed since they were computed (their days and months are local)."""
    entries, stays = _tallies(Q())
    differing_stages = differing(
        stored_amounts(StageEntryTally, (*KEYS, "prev_day"), ENTRY_MEASURES), entries
    ) + differing(stored_amounts(StageStayTally, KEYS, STAY_MEASURES), stays)
    return differing_stages + mrr_tallies.drift()
