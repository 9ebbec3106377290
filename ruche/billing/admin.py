"""Admin pages: the billing profile and number series are edited here; quotes, invoices and
payments are shown read-only (they change through the services, which keep their history), and
an issued invoice can be neither changed nor deleted from the admin."""

from django import forms
from django.contrib import admin

from ruche.billing.models import (
    BillingProfile,
    Invoice,
    InvoiceLine,
    NumberSeries,
    Payment,
    Quote,
    ReminderLog,
    ReminderStep,
)
from ruche.billing.services import PROFILE_FIELDS
from ruche.billing.validation import clean_identifier
from ruche.core.exceptions import ValidationError


class BillingProfileForm(forms.ModelForm):
    """The same identifier checks as the service (python-stdnum), field by field."""

    class Meta:
        model = BillingProfile
        fields = PROFILE_FIELDS

    def clean(self):
        data = super().clean()
        for field in ("siren", "siret", "vat_number", "iban", "bic"):
            try:
                data[field] = clean_identifier(field, data.get(field))
            except ValidationError as error:
                self.add_error(field, error.field_errors[field])
        fee = data.get("recovery_fee_minor")
        if fee is not None and fee < 4000:
            self.add_error("recovery_fee_minor", "The flat recovery fee is at least 40 EUR.")
        return data


@admin.register(BillingProfile)
class BillingProfileAdmin(admin.ModelAdmin):
    form = BillingProfileForm
    list_display = ("legal_name", "siren", "vat_number", "payment_terms_days")

    def has_add_permission(self, request):
        return not BillingProfile.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(NumberSeries)
class NumberSeriesAdmin(admin.ModelAdmin):
    list_display = ("key", "prefix", "restart_yearly", "year", "last_number")
    readonly_fields = ("year", "last_number", "last_date")

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = ("name", "quantity", "unit", "unit_price_minor", "discount_percent", "vat_rate")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("number", "kind", "customer_name", "issue_date", "total_incl_vat_minor")
    list_filter = ("kind",)
    search_fields = ("number", "customer_name")
    inlines = [InvoiceLineInline]

    def has_delete_permission(self, request, obj=None):
        # Drafts are deleted through the API or the web app; an issued invoice never.
        return obj is not None and obj.issued_time is None

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Quote)
class QuoteAdmin(ReadOnlyAdmin):
    list_display = ("number", "revision", "status", "customer_name", "total_excl_vat_minor")
    list_filter = ("status",)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("invoice", "date", "amount_minor", "method", "reference")

    def has_delete_permission(self, request, obj=None):
        return False


class ReminderStepForm(forms.ModelForm):
    class Meta:
        model = ReminderStep
        fields = ("offset_days", "name", "subject_template", "body_template", "is_active")

    def clean(self):
        from ruche.billing.reminders import check_template

        data = super().clean()
        for field in ("subject_template", "body_template"):
            try:
                check_template(data.get(field) or "", field)
            except ValidationError as error:
                self.add_error(field, error.field_errors[field])
        return data


@admin.register(ReminderStep)
class ReminderStepAdmin(admin.ModelAdmin):
    form = ReminderStepForm
    list_display = ("offset_days", "name", "is_active")


@admin.register(ReminderLog)
class ReminderLogAdmin(admin.ModelAdmin):
    list_display = ("invoice", "step", "date", "to_email", "status", "sent_time")
    list_filter = ("status", "step")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
