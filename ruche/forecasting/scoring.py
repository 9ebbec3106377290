"""Deal scoring (docs/metrics.md, "Deal scoring"): a calibrated win-probability model.

Examples are snapshots: at each monthly cutoff, every deal open then (ruche.forecasting.
projection.open_deals_at: status and stage from the history), with its features as of the
cutoff, labelled by how it ended (won 1, lost 0; still-open deals are left out). Open deals
are scored on the same features as of now, so training and scoring see the same thing.

Features: stage then, source, organisation size, revenue type (one-hot); log of the age and of
the days in the stage, log value, the owner's win rate among deals closed before the cutoff,
activities done before it and the days since the last one (scaled). Model: scikit-learn
logistic regression in a Pipeline, calibrated with CalibratedClassifierCV (sigmoid, 3 folds).
Reasons: the largest per-feature contributions (coefficient x the feature's distance from the
training mean) of the uncalibrated model, in words. AUC and Brier are measured on a time-
ordered split (deals added before the 75th percentile of add times train, later ones test).
"""

from __future__ import annotations

import datetime as dt
import math
import pickle

from django.db import transaction
from django.db.models import Count, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ruche.core.models import ChangeRecord, Lookup
from ruche.forecasting.models import DealScore, ScoringModel
from ruche.forecasting.periods import local_tz, month_index
from ruche.forecasting.projection import (
    local_midnight,
    month_start,
    open_deals_at,
    stage_at,
    status_at,
)
from ruche.pipelines.models import Activity, Deal, Stage

CATEGORICAL = ("stage", "source", "org_size", "revenue_type")
NUMERIC = (
    "age_days",
    "days_in_stage",
    "log_value",
    "owner_win_rate",
    "activities_done",
    "days_since_activity",
)
MIN_EXAMPLES = 50  # labelled snapshots, with both outcomes, before a model is trained
MAX_CUTOFFS = 24


def _activities(cutoff: dt.datetime):
    done = Activity.objects.filter(
        deal=OuterRef("pk"), done=True, is_deleted=False, marked_as_done_time__lt=cutoff
    )
    count = done.values("deal").annotate(n=Count("pk")).values("n")[:1]
    last = done.values("deal").annotate(t=Max("marked_as_done_time")).values("t")[:1]
    return Coalesce(Subquery(count), 0), Subquery(last)


def owner_win_rates(user, cutoff: dt.datetime) -> dict[int, float]:
    """Per owner, (won + 1) / (closed + 2) among deals closed before `cutoff` (one GROUP BY)."""
    rows = (
        Deal.objects.filter(is_deleted=False, add_time__lt=cutoff)
        .annotate(outcome=status_at(cutoff))
        .filter(outcome__in=(ChangeRecord.Event.WON, ChangeRecord.Event.LOST))
        .values("owner_id")
        .annotate(closed=Count("pk"), won=Count("pk", filter=Q(outcome=ChangeRecord.Event.WON)))
        .order_by()
    )
    return {r["owner_id"]: (r["won"] + 1) / (r["closed"] + 2) for r in rows}


def snapshot(user, cutoff: dt.datetime) -> list[dict]:
    """The deals open at `cutoff` with their features as of it, and their outcome today."""
    count, last = _activities(cutoff)
    rows = (
        open_deals_at(user, cutoff)
        .annotate(
            entered_then=stage_at(cutoff, "entered_at"),
            act_count=count,
            last_activity=last,
            org_size=F("org__size"),
        )
        .values(
            "pk",
            "status",
            "stage_then",
            "entered_then",
            "add_time",
            "value_minor",
            "source_id",
            "owner_id",
            "org_size",
            "revenue_type",
            "act_count",
            "last_activity",
            "probability",
        )
    )
    rates = owner_win_rates(user, cutoff)
    examples = []
    for row in rows:
        since = (
            365.0
            if row["last_activity"] is None
            else min((cutoff - row["last_activity"]).days, 365)
        )
        examples.append(
            {
                "deal_id": row["pk"],
                "outcome": row["status"],
                "added": row["add_time"],
                "probability": row["probability"],
                "stage": str(row["stage_then"]),
                "source": str(row["source_id"]),
                "org_size": row["org_size"] or "unknown",
                "revenue_type": row["revenue_type"],
                "age": (cutoff - row["add_time"]).days,
                "stay": (cutoff - row["entered_then"]).days,
                "age_days": math.log1p((cutoff - row["add_time"]).days),
                "days_in_stage": math.log1p((cutoff - row["entered_then"]).days),
                "log_value": math.log1p(max(row["value_minor"], 0) / 100),
                "owner_win_rate": rates.get(row["owner_id"], 0.5),
                "activities_done": row["act_count"],
                "days_since_activity": since,
            }
        )
    return examples


def training_examples(user, now: dt.datetime, max_cutoffs: int = MAX_CUTOFFS) -> list[dict]:
    """Snapshots at the first day of each of the last `max_cutoffs` months, closed deals only."""
    current = month_index(now.astimezone(local_tz()).date())
    examples = []
    for index in range(current - max_cutoffs, current + 1):
        cutoff = local_midnight(month_start(index))
        if cutoff >= now:
            break
        examples += [e for e in snapshot(user, cutoff) if e["outcome"] != Deal.Status.OPEN]
    return examples


def _frame(examples):
    import pandas as pd

    return pd.DataFrame([{k: e[k] for k in (*CATEGORICAL, *NUMERIC)} for e in examples])


def _pipeline():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
            ("num", StandardScaler(), list(NUMERIC)),
        ]
    )
    return Pipeline([("features", columns), ("model", LogisticRegression(max_iter=1000))])


def _calibrated():
    from sklearn.calibration import CalibratedClassifierCV

    return CalibratedClassifierCV(_pipeline(), method="sigmoid", cv=3)


def _labels(examples):
    return [1 if e["outcome"] == Deal.Status.WON else 0 for e in examples]


def _enough(examples, min_examples: int) -> bool:
    labels = set(_labels(examples))
    return len(examples) >= min_examples and labels == {0, 1}


def _evaluate(examples) -> dict:
    """AUC, Brier and a 5-bin reliability table on a time-ordered split."""
    from sklearn.metrics import brier_score_loss, roc_auc_score

    added = sorted(e["added"] for e in examples)
    split = added[int(len(added) * 0.75)]
    train = [e for e in examples if e["added"] < split]
    test = [e for e in examples if e["added"] >= split]
    if not (_enough(train, 10) and len(set(_labels(test))) == 2):
        return {"train": len(train), "test": len(test), "auc": None, "brier": None, "bins": []}
    model = _calibrated().fit(_frame(train), _labels(train))
    predicted = model.predict_proba(_frame(test))[:, 1]
    truth = _labels(test)
    bins = []
    for i in range(5):
        lo, hi = i / 5, (i + 1) / 5
        members = [
            (p, y)
            for p, y in zip(predicted, truth, strict=True)
            if lo <= p < hi or (i == 4 and p == 1)
        ]
        if members:
            bins.append(
                {
                    "from": lo,
                    "to": hi,
                    "deals": len(members),
                    "predicted": round(sum(p for p, _ in members) / len(members), 4),
                    "observed": round(sum(y for _, y in members) / len(members), 4),
                }
            )
    return {
        "train": len(train),
        "test": len(test),
        "auc": round(float(roc_auc_score(truth, predicted)), 4),
        "brier": round(float(brier_score_loss(truth, predicted)), 4),
        "bins": bins,
    }


# Reasons in words -------------------------------------------------------------------------------


def _phrase(feature: str, example: dict, names: dict) -> str:
    value = example[feature]
    if feature == "stage":
        return f"In stage {names['stage'].get(value, value)}"
    if feature == "source":
        return "No source" if value == "None" else f"Source: {names['source'].get(value, value)}"
    if feature == "org_size":
        return f"Organisation size {value}"
    if feature == "revenue_type":
        return f"Revenue type {value.replace('_', '-')}"
    if feature == "age_days":
        return f"Open for {example['age']} days"
    if feature == "days_in_stage":
        return f"{example['stay']} days in its stage"
    if feature == "log_value":
        return f"Worth {math.expm1(value):,.0f}"
    if feature == "owner_win_rate":
        return f"Owner wins {round(100 * value)}% of closed deals"
    if feature == "activities_done":
        return f"{value} activities done"
    if value >= 365:
        return "No activity done yet"
    return f"Last activity {int(value)} days ago"


def _groups(explainer) -> list[tuple[str, int, int]]:
    """(feature, first column, end column) of the transformed matrix, in order."""
    encoder = explainer.named_steps["features"].named_transformers_["cat"]
    groups, start = [], 0
    for feature, categories in zip(CATEGORICAL, encoder.categories_, strict=True):
        groups.append((feature, start, start + len(categories)))
        start += len(categories)
    for feature in NUMERIC:
        groups.append((feature, start, start + 1))
        start += 1
    return groups


def reasons(bundle: dict, examples: list[dict], top: int = 3) -> list[list[str]]:
    import numpy as np

    explainer = bundle["explainer"]
    matrix = explainer.named_steps["features"].transform(_frame(examples))
    matrix = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    contributions = (matrix - bundle["mean"]) * explainer.named_steps["model"].coef_[0]
    names = {
        "stage": {str(k): v for k, v in Stage.objects.values_list("pk", "name")},
        "source": {str(k): v for k, v in Lookup.objects.values_list("pk", "name")},
    }
    out = []
    for example, row in zip(examples, contributions, strict=True):
        by_feature = [(f, float(row[a:b].sum())) for f, a, b in _groups(explainer)]
        by_feature.sort(key=lambda item: -abs(item[1]))
        out.append(
            [
                f"{_phrase(f, example, names)} ({'raises' if c > 0 else 'lowers'} the chance)"
                for f, c in by_feature[:top]
                if abs(c) > 1e-9
            ]
        )
    return out


# Training and scoring ---------------------------------------------------------------------------


def train(
    user=None,
    *,
    now: dt.datetime | None = None,
    min_examples: int = MIN_EXAMPLES,
    max_cutoffs: int = MAX_CUTOFFS,
) -> ScoringModel:
    """Train (or fall back), store the model, and score every open deal."""
    import numpy as np

    now = now or timezone.now()
    examples = training_examples(user, now, max_cutoffs)
    if not _enough(examples, min_examples):
        record = ScoringModel.objects.create(
            trained_at=now,
            fallback=True,
            train_examples=len(examples),
            note=f"Not enough history ({len(examples)} closed snapshots, both outcomes needed, "
            f"{min_examples} at least): scores are the stage probabilities.",
        )
        _score(record, None, now, user)
        return record
    figures = _evaluate(examples)
    model = _calibrated().fit(_frame(examples), _labels(examples))
    explainer = _pipeline().fit(_frame(examples), _labels(examples))
    matrix = explainer.named_steps["features"].transform(_frame(examples))
    matrix = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    bundle = {"model": model, "explainer": explainer, "mean": matrix.mean(axis=0)}
    record = ScoringModel.objects.create(
        trained_at=now,
        train_examples=figures["train"],
        test_examples=figures["test"],
        auc=figures["auc"],
        brier=figures["brier"],
        reliability=figures["bins"],
        note=f"Trained on {len(examples)} snapshots of closed deals; AUC and Brier on the "
        f"{figures['test']} snapshots of the latest-added quarter of deals.",
        blob=pickle.dumps(bundle),
    )
    _score(record, bundle, now, user)
    return record


def _score(record: ScoringModel, bundle: dict | None, now: dt.datetime, user) -> None:
    current = snapshot(user, now)
    nominal = dict(Stage.objects.values_list("pk", "deal_probability"))
    if bundle is None:
        scores = []
        for e in current:
            p = e["probability"] if e["probability"] is not None else nominal[int(e["stage"])]
            scores.append((p, [f"No history to learn from: the stage's probability ({p}%)"]))
    else:
        predicted = bundle["model"].predict_proba(_frame(current))[:, 1] if current else []
        words = reasons(bundle, current) if current else []
        scores = [(round(100 * float(p)), w) for p, w in zip(predicted, words, strict=True)]
    with transaction.atomic():
        DealScore.objects.all().delete()
        DealScore.objects.bulk_create(
            DealScore(
                deal_id=e["deal_id"],
                model=record,
                score=max(0, min(100, s)),
                reasons=w,
                scored_at=now,
            )
            for e, (s, w) in zip(current, scores, strict=True)
        )


def latest_model() -> ScoringModel | None:
    """What the settings page shows."""
    return ScoringModel.objects.order_by("-trained_at", "-id").first()


def load(record: ScoringModel) -> dict | None:
    return None if record.blob is None else pickle.loads(bytes(record.blob))


def deal_scores(user, deal_ids: list[int]) -> list[dict]:
    """The stored scores of the given deals that `user` may see (deal_list's rule)."""
    from ruche.pipelines.selectors import deal_list

    visible = deal_list(user, filters={}).filter(pk__in=deal_ids).values("pk")
    return [
        {"deal_id": s.deal_id, "score": s.score, "reasons": s.reasons, "scored_at": s.scored_at}
        for s in DealScore.objects.filter(deal__in=visible).order_by("deal_id")
    ]
