"""Activities, calendar, forecast board and team settings, included under the "web" namespace
by ruche/web/urls.py."""

urlpatterns = []
