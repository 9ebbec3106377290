"""Web pages of this area, included under the "web" namespace by ruche/web/urls.py."""

from django.urls import path

from ruche.transfer.web import views

urlpatterns = [
    path("", views.import_home, name="import_home"),
    path("<int:run_id>/", views.import_run, name="import_run"),
    path("<int:run_id>/mapping/", views.import_mapping, name="import_mapping"),
    path("<int:run_id>/values/", views.import_values, name="import_values"),
    path("<int:run_id>/preview/", views.import_preview, name="import_preview"),
    path("<int:run_id>/progress/", views.import_progress, name="import_progress"),
    path("<int:run_id>/cancel/", views.import_cancel, name="import_cancel"),
    path("<int:run_id>/undo/", views.import_undo, name="import_undo"),
    path("<int:run_id>/rows-to-fix.csv", views.import_bad_rows, name="import_bad_rows"),
]
