"""Reading and adding amounts of a tally table (the stage tallies, the MRR tally): rows keyed
by some columns, measures added with one upsert per row."""

from __future__ import annotations

from collections import Counter

from django.db import connection


def _upsert_sql(model, keys: tuple[str, ...], measures: tuple[str, ...]) -> str:
    table = model._meta.db_table
    columns = ", ".join((*keys, *measures))
    marks = ", ".join(["%s"] * (len(keys) + len(measures)))
    added = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in measures)
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {added}"
    )


def add_to_tally(model, keys: tuple[str, ...], measures: tuple[str, ...], amounts: Counter) -> None:
    """Add `amounts` ({(key, measure): amount}) to the model's rows, creating missing rows and
    deleting those that fall to zero (all measures), which only a decrease can do."""
    by_key: dict[tuple, list[int]] = {}
    for (key, name), amount in amounts.items():
        if amount:
            by_key.setdefault(key, [0] * len(measures))[measures.index(name)] = amount
    if not by_key:
        return
    rows = [(*key, *values) for key, values in sorted(by_key.items())]
    with connection.cursor() as cursor:
        cursor.executemany(_upsert_sql(model, keys, measures), rows)
    decreased = sorted({key[0] for key, values in by_key.items() if min(values) < 0})
    if decreased:
        first_key = {f"{keys[0]}__in": decreased}
        model.objects.filter(**first_key, **dict.fromkeys(measures, 0)).delete()


def stored_amounts(model, keys: tuple[str, ...], measures: tuple[str, ...]) -> Counter:
    """The model's rows as amounts: {(key, measure): amount}."""
    amounts = Counter()
    for row in model.objects.values_list(*keys, *measures).iterator(chunk_size=5000):
        for name, amount in zip(measures, row[len(keys) :], strict=True):
            amounts[(row[: len(keys)], name)] += amount
    return amounts


def differing(stored: Counter, computed: Counter) -> int:
    """How many amounts differ between two tallies."""
    return len({key for key in stored.keys() | computed.keys() if stored[key] != computed[key]})
