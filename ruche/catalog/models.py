from django.conf import settings
from django.db import models

from ruche.core.models import TimestampedModel


class Product(TimestampedModel):
    name = models.CharField(max_length=255, db_index=True)
    code = models.CharField(max_length=64, blank=True, db_index=True)
    description = models.TextField(blank=True)
    unit = models.CharField(max_length=32, blank=True)
    unit_price_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2, default=20)
    is_recurring = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    custom_fields = models.JSONField(default=dict, blank=True)
    is_deleted = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name
