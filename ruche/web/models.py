"""What each user keeps of the lists and the board: the columns they chose and their saved
filters. Private to the user; none of it is business data, so it has no history."""

from django.conf import settings
from django.db import models

# The lists and the board, as `list_key` names them.
LIST_KEYS = ("board", "deals", "organizations", "persons", "products", "activities")


class ListColumns(models.Model):
    """The columns a user chose for one list, in order; custom fields as "cf:<key>"."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    list_key = models.CharField(max_length=16)
    columns = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "list_key"], name="listcolumns_unique_list")
        ]


class SavedFilter(models.Model):
    """A named set of filters (the query string the list or board reads) for one list."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    list_key = models.CharField(max_length=16)
    name = models.CharField(max_length=100)
    query = models.TextField(blank=True)
    add_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "list_key", "name"], name="savedfilter_unique_name"
            )
        ]

    def __str__(self) -> str:
        return self.name
