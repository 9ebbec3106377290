"""Document numbers: chronological and continuous, with no gap and no duplicate.

`next_number` must run inside the transaction that stores the number on the document. It locks
the series row (SELECT ... FOR UPDATE) so concurrent issuers queue behind each other; the lock
is held until commit, and a rollback gives the number back, so no gap is ever left. On SQLite
the whole database is locked by the writing transaction, which gives the same guarantee.
"""

import datetime as dt

from django.db import IntegrityError, transaction

from ruche.billing.models import NumberSeries
from ruche.core.exceptions import Conflict

DEFAULT_PREFIXES = {
    NumberSeries.Key.QUOTE: "D",
    NumberSeries.Key.INVOICE: "F",
    NumberSeries.Key.CREDIT_NOTE: "AV",
}


def _series_row(key: str) -> NumberSeries:
    try:
        return NumberSeries.objects.select_for_update().get(key=key)
    except NumberSeries.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            NumberSeries.objects.create(key=key, prefix=DEFAULT_PREFIXES[key])
    except IntegrityError:
        pass  # created meanwhile by a concurrent issuer
    return NumberSeries.objects.select_for_update().get(key=key)


def format_number(series: NumberSeries, number: int, year: int) -> str:
    digits = str(number).zfill(series.padding)
    if series.restart_yearly:
        return f"{series.prefix}{year}-{digits}"
    return f"{series.prefix}{digits}"


def next_number(key: str, on: dt.date) -> str:
    """The next number of series `key` for a document dated `on`, reserved for the current
    transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_number must run inside the issuing transaction.")
    series = _series_row(key)
    if series.last_date is not None and on < series.last_date:
        raise Conflict(
            f"Numbers are chronological: the last {key} was dated {series.last_date}, after {on}."
        )
    if series.restart_yearly and series.year != on.year:
        series.year = on.year
        series.last_number = 0
    series.last_number += 1
    series.last_date = on
    series.save(update_fields=["year", "last_number", "last_date"])
    return format_number(series, series.last_number, on.year)
