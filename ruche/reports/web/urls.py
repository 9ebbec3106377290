"""Web pages of this area, included under the "web" namespace by ruche/web/urls.py."""

from django.urls import path

from ruche.reports.web import views

urlpatterns = [
    path("", views.report_list, name="reports"),
    path("new/", views.report_create, name="report_create"),
    path("<int:report_id>/", views.report_detail, name="report"),
    path("<int:report_id>/edit/", views.report_edit, name="report_edit"),
    path("<int:report_id>/delete/", views.report_delete, name="report_delete"),
    path("<int:report_id>/export.<str:file_format>", views.report_export, name="report_export"),
    path("<int:report_id>/schedules/", views.schedule_add, name="report_schedule_add"),
    path(
        "schedules/<int:schedule_id>/remove/",
        views.schedule_remove,
        name="report_schedule_remove",
    ),
    path("alerts/", views.alert_list, name="report_alerts"),
    path("alerts/<int:alert_id>/remove/", views.alert_remove, name="report_alert_remove"),
]
