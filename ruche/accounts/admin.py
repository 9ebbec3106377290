"""Admin pages for settings only. Deals, contacts and the history are changed through the
services (the API, the CLI, the web app), never here, so that every change is recorded."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from ruche.accounts.models import ApiToken, Company, Team, User


@admin.register(User)
class RucheUserAdmin(UserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "role", "team", "is_active"]
    list_filter = ["role", "team", "is_active"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name", "role", "team", "locale", "is_active"]}),
    ]
    add_fieldsets = [(None, {"fields": ["email", "password1", "password2", "role", "team"]})]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["user", "key_hash", "prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False  # tokens are created by `ruche token create`, which shows them once


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "currency", "default_visibility", "fiscal_year_start_month"]
