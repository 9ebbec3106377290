"""Web pages of this area, included under the "web" namespace by ruche/web/urls.py."""

urlpatterns = []
