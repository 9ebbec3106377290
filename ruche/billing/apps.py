from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "ruche.billing"
    label = "billing"
