from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "ruche.api"
    label = "api"
