"""The site's URLs plus /api/v2/reports, until the lead mounts ruche.reports.api in
ruche/api/v2.py (this test API is then shadowed by nothing: it answers the same routes)."""

from django.urls import path

from config.urls import urlpatterns as site
from ruche.api.auth import api_auth
from ruche.api.base import EnvelopeRenderer, ExactDecimalParser, RucheAPI, install_error_handlers
from ruche.reports import api as reports_api

api = RucheAPI(
    title="Ruche API (reports under test)",
    version="2.0.0-reports",
    auth=api_auth,
    parser=ExactDecimalParser(),
    renderer=EnvelopeRenderer(),
    urls_namespace="api-v2-reports-test",
    docs_url=None,
)
install_error_handlers(api)
api.add_router("/", reports_api.router, url_name_prefix="reports_test")

urlpatterns = [path("api/v2/", api.urls), *site]
