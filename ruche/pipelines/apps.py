from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_defaults(sender, **kwargs) -> None:
    from ruche.core.defaults import install_defaults

    install_defaults()


class PipelinesConfig(AppConfig):
    name = "ruche.pipelines"
    label = "pipelines"

    def ready(self) -> None:
        post_migrate.connect(_install_defaults, sender=self)
