from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "ruche.contacts"
    label = "contacts"
