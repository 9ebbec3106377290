from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "ruche.reports"
    verbose_name = "Reports"
