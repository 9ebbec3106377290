"""Deal scoring: the fallback without history, and a trained model's 0-100 scores with reasons
on a small hand-built history (status and stage read from the history at each cutoff)."""

import pytest

from ruche.forecasting.models import DealScore, ScoringModel
from ruche.forecasting.scoring import latest_model, load, train
from ruche.forecasting.tasks import retrain_deal_scoring
from tests.factories import DealFactory
from tests.forecasting.conftest import at
from tests.forecasting.test_projection import _deal

pytestmark = pytest.mark.django_db

NOW = at("2025-07-01")


def test_no_history_falls_back_to_the_stage_probability_and_says_so(rep, stages):
    deal = DealFactory(owner=rep, stage=stages[1], value="500")
    record = train(None)
    assert record.fallback is True and record.blob is None
    assert "Not enough history" in record.note and record.auc is None
    score = DealScore.objects.get(deal=deal)
    assert score.score == stages[1].deal_probability
    assert score.reasons == [
        f"No history to learn from: the stage's probability ({stages[1].deal_probability}%)"
    ]
    assert latest_model() == record


def test_a_trained_model_scores_open_deals_0_to_100_with_reasons(rep, stages):
    # 24 deals added 1-24 January in the first stage; the even ones reach the fourth stage on
    # 1 February + i days and are won on 15 March, the odd ones stay and are lost then.
    for i in range(24):
        added = f"2025-01-{i + 1:02d}"
        if i % 2 == 0:
            path = [(0, added), (3, f"2025-02-{i + 1:02d}")]
            _deal(rep, stages, "1000", added, path, status="won", closed="2025-03-15")
        else:
            _deal(rep, stages, "1000", added, [(0, added)], status="lost", closed="2025-03-15")
    hot = _deal(rep, stages, "1000", "2025-05-02", [(0, "2025-05-02"), (3, "2025-05-20")])
    cold = _deal(rep, stages, "1000", "2025-05-02", [(0, "2025-05-02")])

    record = train(None, now=NOW, min_examples=10, max_cutoffs=6)

    assert record.fallback is False and load(record)["model"] is not None
    assert record.train_examples + record.test_examples > 0
    assert record.brier is None or 0 <= record.brier <= 1
    scores = {s.deal_id: s for s in DealScore.objects.filter(model=record)}
    assert set(scores) == {hot.pk, cold.pk}
    for score in scores.values():
        assert 0 <= score.score <= 100
        assert 1 <= len(score.reasons) <= 3
        assert all(r.endswith("the chance)") for r in score.reasons)
    assert scores[hot.pk].score > scores[cold.pk].score
    assert any(stages[3].name in r for r in scores[hot.pk].reasons)


def test_the_retraining_task_replaces_the_scores(rep, stages):
    deal = DealFactory(owner=rep, stage=stages[0], value="100")
    retrain_deal_scoring.call()
    retrain_deal_scoring.call()
    assert ScoringModel.objects.count() == 2
    assert DealScore.objects.filter(deal=deal).count() == 1


def test_scoring_api_reports_the_model_and_visible_scores(api_as, admin, rep, other_rep, stages):
    from ruche.core.models import Visibility

    mine = DealFactory(owner=rep, stage=stages[1], value="100")
    hidden = DealFactory(owner=admin, stage=stages[1], value="100", visible_to=Visibility.OWNER)
    assert api_as(admin).get("/forecasts/scoring").json()["data"] == {"model": None, "scores": []}
    train(None)
    body = api_as(rep).get(f"/forecasts/scoring?deal_ids={mine.pk},{hidden.pk}").json()["data"]
    assert body["model"]["fallback"] is True and body["model"]["auc"] is None
    assert [s["deal_id"] for s in body["scores"]] == [mine.pk]
    for url, field in (
        ("/forecasts/scoring?deal_ids=x", "deal_ids"),
        ("/forecasts/scoring?y=1", "y"),
    ):
        response = api_as(admin).get(url)
        assert response.status_code == 422 and field in response.json()["errors"]
