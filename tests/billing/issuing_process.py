"""The body of one issuing process for tests/billing/test_concurrency.py. It runs in a fresh
interpreter (multiprocessing "spawn"), so it sets Django up itself, against the test database
the parent uses, then issues its share of the drafts, each in its own transaction."""

import os


def issue_in_this_process(database_name: str, user_id: int, invoice_ids, barrier, results) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = database_name  # read at the first connection
    django.setup()

    from django.db import connection

    from ruche.accounts.models import User
    from ruche.billing import services
    from ruche.core.history import Actor

    try:
        actor = Actor.for_user(User.objects.get(pk=user_id))
        barrier.wait(timeout=60)
        for pk in invoice_ids:
            results.put((os.getpid(), services.invoice_issue(actor=actor, invoice_id=pk).number))
    finally:
        connection.close()
