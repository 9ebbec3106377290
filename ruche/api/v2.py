"""Ruche's REST API v2, shaped after Pipedrive's API v2 so that its clients work unchanged."""

from ruche.api import activities, contacts, deals, directory, fields, products, search, structure
from ruche.api.auth import api_auth
from ruche.api.base import EnvelopeRenderer, ExactDecimalParser, RucheAPI, install_error_handlers
from ruche.billing import api as billing_api
from ruche.forecasting import api as forecasting_api
from ruche.integrations import api as integrations_api
from ruche.reports import api as reports_api
from ruche.transfer import api as transfer_api

api = RucheAPI(
    title="Ruche API",
    version="2.0.0",
    description="Pipedrive API v2 compatible. Authenticate with the `x-api-token` header or "
    "the `api_token` query parameter. Amounts are decimal numbers in major units.",
    auth=api_auth,
    parser=ExactDecimalParser(),
    renderer=EnvelopeRenderer(),
    urls_namespace="api-v2",
    docs_url="/docs",
)
install_error_handlers(api)
for module in (search, deals, contacts, products, structure, activities, fields, directory):
    api.add_router("/", module.router)
for router in (
    forecasting_api.router,
    billing_api.router,
    transfer_api.router,
    integrations_api.router,
    reports_api.router,
):
    api.add_router("/", router)
