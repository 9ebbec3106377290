"""Forecasting jobs (django-tasks), run by `ruche worker`. Safe to run twice: a retraining
trains a new model and replaces every open deal's score; a projection run already computed is
left as it is."""

from django_tasks import task

from ruche.forecasting import scoring
from ruche.forecasting.projection_runs import compute_run


@task()
def retrain_deal_scoring() -> dict:
    record = scoring.train()
    return {"model_id": record.pk, "fallback": record.fallback, "auc": record.auc}


@task()
def refresh_projection(run_id: int) -> dict:
    run = compute_run(run_id)
    return {"run_id": run.pk, "error": run.error}
