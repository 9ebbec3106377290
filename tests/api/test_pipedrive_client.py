"""The official Pipedrive JavaScript client works against Ruche: it runs in Node against a live
server and the database is checked afterwards."""

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from ruche.core.models import ChangeRecord
from ruche.pipelines.models import Deal, DealLine, StageEntry

ROOT = Path(__file__).resolve().parents[2]
FLOW = Path(__file__).with_name("pipedrive_flow.js")


@pytest.fixture
def flow_output(live_server, admin, token_for):
    token = token_for(admin)
    result = subprocess.run(
        ["node", str(FLOW)],
        env=os.environ
        | {
            "BASE_URL": f"{live_server.url}/api/v2",
            "API_TOKEN": token,
            "NODE_PATH": str(ROOT / "node_modules"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_official_client_full_flow(flow_output, admin):
    out = flow_output
    # Two lines: 2 x 100.00, then 1 x 80.00 less 10 %.
    assert out["line_sums"] == [200, 72]
    assert out["final"] == {
        "value": 272,
        "status": "won",
        "stage_id": out["second_stage_id"],
        "probability": 100,
        "won_time": out["final"]["won_time"],
    }
    assert out["final"]["won_time"].endswith("Z")

    # Cursor paging with limit=1 walked every deal of the stage, one per page, none twice.
    assert out["by_stage"] == {"ids": [out["deal_id"], out["other_id"]], "pages": 2}
    assert out["by_owner"] == out["by_stage"]

    deal = Deal.objects.get(pk=out["deal_id"])
    assert (deal.value_minor, deal.status, deal.probability) == (27200, "won", 100)
    assert deal.org_id == out["org_id"] and deal.person_id == out["person_id"]
    lines = DealLine.objects.filter(deal=deal).order_by("id")
    assert [(line.total_minor, line.vat_minor) for line in lines] == [(20000, 4000), (7200, 1440)]
    assert [line.quantity for line in lines] == [Decimal(2), Decimal(1)]

    events = list(
        ChangeRecord.objects.filter(entity="deal", entity_id=deal.pk).values_list(
            "event", "actor_kind"
        )
    )
    assert [event for event, _ in events] == [
        "created",
        "line_added",
        "updated",
        "line_added",
        "updated",
        "stage_moved",
        "won",
        "updated",
        "updated",
        "updated",
    ]
    assert {kind for _, kind in events} == {"token"}
    assert StageEntry.objects.filter(deal=deal).count() == 2
