import secrets

from django.contrib import admin

from ruche.core.models import CustomField, ExchangeRate, Lookup


@admin.register(Lookup)
class LookupAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "order_nr", "is_active"]
    list_filter = ["kind", "is_active"]


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ["name", "entity", "field_type", "key", "is_required"]
    list_filter = ["entity", "field_type"]
    readonly_fields = ["key"]

    def save_model(self, request, obj, form, change):
        obj.key = obj.key or secrets.token_hex(20)
        super().save_model(request, obj, form, change)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "quote_currency", "valid_from", "rate"]
    list_filter = ["currency"]
