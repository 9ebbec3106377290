from django.apps import AppConfig


class ForecastingConfig(AppConfig):
    name = "ruche.forecasting"
    label = "forecasting"
