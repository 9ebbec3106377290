"""Web pages of this area, included under the "web" namespace by ruche/web/urls.py."""

from django.urls import path

from ruche.forecasting.web import views

urlpatterns = [
    path("", views.forecasts, name="forecasts"),
    path("submit/", views.forecast_submit, name="forecast_submit"),
    path("adjust/", views.forecast_adjust, name="forecast_adjust"),
]
