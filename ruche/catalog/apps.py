from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "ruche.catalog"
    label = "catalog"
