"""Exports stream rows through the same selectors as every list, so they show exactly what the
user may see; ruche.core.spreadsheets makes the cells safe."""

from collections.abc import Iterator

from ruche.core.money import to_major
from ruche.pipelines.models import Deal
from ruche.pipelines.selectors import deal_list

DEAL_COLUMNS = (
    "id",
    "title",
    "organization",
    "person",
    "owner",
    "pipeline",
    "stage",
    "status",
    "value",
    "currency",
    "expected_close_date",
    "probability",
    "lost_reason",
    "add_time",
    "won_time",
    "lost_time",
)


def deal_row(deal: Deal) -> list:
    return [
        deal.pk,
        deal.title,
        deal.org.name if deal.org else "",
        deal.person.name if deal.person else "",
        deal.owner.email,
        deal.pipeline.name,
        deal.stage.name,
        deal.status,
        to_major(deal.value_minor, deal.currency),
        deal.currency,
        deal.expected_close_date,
        deal.probability,
        deal.lost_reason.name if deal.lost_reason else "",
        deal.add_time.isoformat(),
        deal.won_time.isoformat() if deal.won_time else "",
        deal.lost_time.isoformat() if deal.lost_time else "",
    ]


def deal_rows(user, filters: dict) -> Iterator[list]:
    deals = (
        deal_list(user, filters=filters)
        .select_related("org", "person", "owner", "pipeline", "stage")
        .order_by("id")
    )
    yield list(DEAL_COLUMNS)
    for deal in deals.iterator(chunk_size=2000):
        yield deal_row(deal)
