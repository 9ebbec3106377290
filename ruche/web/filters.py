"""The deal filters of the board and the lists, parsed from the query string. They go to the
same selectors as the API (deal_list, deal_search); the few the selectors do not know (label,
expected close range) narrow the selector's queryset."""

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import QuerySet

from ruche.pipelines.models import Deal
from ruche.pipelines.selectors import deal_list, deal_search
from ruche.web.views.common import int_or_none

STATUSES = {"open", "won", "lost"}


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass
class DealFilters:
    owner_id: int | None = None
    team_id: int | None = None
    status: str = "open"
    label_id: int | None = None
    close_from: dt.date | None = None
    close_to: dt.date | None = None
    pipeline_id: int | None = None
    stage_id: int | None = None
    q: str = ""
    errors: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params, *, default_status: str = "open") -> "DealFilters":
        status = params.get("status", default_status)
        return cls(
            owner_id=int_or_none(params.get("owner")),
            team_id=int_or_none(params.get("team")),
            status=status if status in STATUSES or status == "all" else default_status,
            label_id=int_or_none(params.get("label")),
            close_from=_date(params.get("close_from")),
            close_to=_date(params.get("close_to")),
            pipeline_id=int_or_none(params.get("pipeline")),
            stage_id=int_or_none(params.get("stage")),
            q=(params.get("q") or "").strip()[:200],
        )

    def selector_filters(self) -> dict:
        return {
            "owner_id": self.owner_id,
            "statuses": [] if self.status == "all" else [self.status],
            "pipeline_id": self.pipeline_id,
            "stage_id": self.stage_id,
        }

    def deals(self, user) -> QuerySet[Deal]:
        if self.q:
            deals = deal_search(user, term=self.q, filters=self.selector_filters())
        else:
            deals = deal_list(user, filters=self.selector_filters())
        if self.team_id is not None:
            deals = deals.filter(owner__team_id=self.team_id)
        if self.label_id is not None:
            deals = deals.filter(labels=self.label_id)
        if self.close_from is not None:
            deals = deals.filter(expected_close_date__gte=self.close_from)
        if self.close_to is not None:
            deals = deals.filter(expected_close_date__lte=self.close_to)
        return deals

    def params(self, *, board: bool = False) -> dict:
        values = {
            "owner": self.owner_id,
            "team": self.team_id,
            "status": self.status,
            "label": self.label_id,
            "close_from": self.close_from.isoformat() if self.close_from else None,
            "close_to": self.close_to.isoformat() if self.close_to else None,
            "q": self.q,
        }
        if not board:
            values |= {"pipeline": self.pipeline_id, "stage": self.stage_id}
        return {key: value for key, value in values.items() if value not in (None, "")}

    def querystring(self, *, board: bool = False, **extra) -> str:
        values = self.params(board=board) | {k: v for k, v in extra.items() if v is not None}
        return urlencode(values)
