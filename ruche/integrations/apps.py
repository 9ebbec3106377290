from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "ruche.integrations"
    label = "integrations"
