"""SQL expressions both databases compute natively, shared by the selectors."""

from django.db.models import BigIntegerField, ExpressionWrapper, F, Func, IntegerField


class DaysBetween(Func):
    """Whole days from one date to another, as an integer: PostgreSQL subtracts dates;
    SQLite subtracts their Julian day numbers natively (Django's date subtraction calls a
    Python function per row there)."""

    arity = 2  # (end, start)
    arg_joiner = " - "
    template = "(%(expressions)s)"
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )


class EpochMicroseconds(Func):
    """A date-time as whole microseconds since the epoch, exactly: PostgreSQL's EXTRACT(EPOCH)
    is a numeric; on SQLite, the Julian day of the whole seconds (rounded: a double is exact to
    a few microseconds there) plus the stored microsecond digits. Django's DurationField
    arithmetic calls a Python function per row on SQLite."""

    arity = 1
    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)"
    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="(CAST(ROUND(julianday(substr(%(expressions)s, 1, 19)) * 86400) AS INTEGER)"
            " * 1000000 + CAST(substr(%(expressions)s, 21) AS INTEGER))",
            **extra,
        )


def microseconds_between(end: str, start: str) -> ExpressionWrapper:
    """`end` - `start` (two date-time fields) in whole microseconds, summed exactly."""
    return ExpressionWrapper(
        EpochMicroseconds(F(end)) - EpochMicroseconds(F(start)), output_field=BigIntegerField()
    )
