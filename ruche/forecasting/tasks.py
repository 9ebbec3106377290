"""Forecasting jobs (django-tasks), run by `ruche worker`. Safe to run twice: each run trains a
new model and replaces every open deal's score."""

from django_tasks import task

from ruche.forecasting import scoring


@task()
def retrain_deal_scoring() -> dict:
    record = scoring.train()
    return {"model_id": record.pk, "fallback": record.fallback, "auc": record.auc}
