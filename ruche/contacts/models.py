from django.db import models

from ruche.core.models import Lookup, OwnedModel


class Organization(OwnedModel):
    class Size(models.TextChoices):
        MICRO = "1-9"
        SMALL = "10-49"
        MEDIUM = "50-249"
        LARGE = "250-4999"
        ENTERPRISE = "5000+"

    name = models.CharField(max_length=255, db_index=True)
    address = models.CharField(max_length=500, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=120, blank=True)
    country = models.CharField(max_length=2, blank=True)
    siren = models.CharField(max_length=9, blank=True, db_index=True)
    siret = models.CharField(max_length=14, blank=True)
    vat_number = models.CharField(max_length=20, blank=True)
    industry = models.CharField(max_length=120, blank=True)
    size = models.CharField(max_length=16, choices=Size.choices, blank=True)
    source = models.ForeignKey(
        Lookup, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    external_id = models.CharField(max_length=120, blank=True, db_index=True)

    def __str__(self) -> str:
        return self.name


class Person(OwnedModel):
    name = models.CharField(max_length=255, db_index=True)
    first_name = models.CharField(max_length=120, blank=True)
    last_name = models.CharField(max_length=120, blank=True)
    # [{"value": "a@b.fr", "label": "work", "primary": true}], as in Pipedrive.
    emails = models.JSONField(default=list, blank=True)
    phones = models.JSONField(default=list, blank=True)
    org = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="persons"
    )
    job_title = models.CharField(max_length=255, blank=True)
    external_id = models.CharField(max_length=120, blank=True, db_index=True)

    def __str__(self) -> str:
        return self.name
