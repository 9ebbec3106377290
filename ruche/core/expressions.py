"""SQL expressions both databases compute natively, shared by the selectors."""

from django.db.models import Func, IntegerField


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
