"""Webhook jobs (django-tasks), run by `ruche worker`. They take ids only and are safe to run
twice (ruche.integrations.webhooks claims each attempt)."""

from django_tasks import default_task_backend, task

from ruche.integrations import webhooks


@task()
def deliver_webhook(delivery_id: int) -> str:
    retry_at = webhooks.deliver(delivery_id)
    if retry_at is not None and default_task_backend.supports_defer:
        deliver_webhook.using(run_after=retry_at).enqueue(delivery_id)
    return retry_at.isoformat() if retry_at else "done"


@task()
def deliver_due_webhooks() -> int:
    """A sweep for deliveries whose retry was not enqueued (a backend without run_after, or a
    worker that stopped): attempts every pending delivery that is due."""
    count = 0
    for delivery_id in webhooks.due_deliveries():
        deliver_webhook.call(delivery_id)
        count += 1
    return count
