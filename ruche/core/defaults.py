"""What a new install offers: the standard pipeline and the usual lookup lists. Idempotent."""

from django.db import transaction

from ruche.core.models import Lookup

DEFAULT_LOOKUPS = {
    Lookup.Kind.SOURCE: [
        "Site web",
        "Recommandation",
        "Salon",
        "Prospection",
        "Partenaire",
        "Publicité",
    ],
    Lookup.Kind.LOSS_REASON: [
        "Prix trop élevé",
        "Concurrent choisi",
        "Pas de budget",
        "Projet abandonné",
        "Pas de réponse",
        "Fonctionnalité manquante",
    ],
    Lookup.Kind.FORECAST_CATEGORY: ["Pipeline", "Best case", "Commit", "Omitted"],
    Lookup.Kind.LABEL: ["Chaud", "Tiède", "Froid"],
}


@transaction.atomic
def install_defaults() -> None:
    from ruche.core.history import Actor
    from ruche.pipelines.models import Pipeline
    from ruche.pipelines.services import pipeline_create_standard

    for kind, names in DEFAULT_LOOKUPS.items():
        for order_nr, name in enumerate(names, start=1):
            Lookup.objects.get_or_create(kind=kind, name=name, defaults={"order_nr": order_nr})
    if not Pipeline.objects.exists():
        pipeline_create_standard(actor=Actor.for_job("install"))
