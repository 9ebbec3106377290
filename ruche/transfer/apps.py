from django.apps import AppConfig


class TransferConfig(AppConfig):
    name = "ruche.transfer"
    label = "transfer"
