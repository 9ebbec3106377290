from tests.api.conftest import api_as, token_for  # noqa: F401
from tests.billing.conftest import (  # noqa: F401
    customer,
    issued_invoice,
    profile,
    won_deal,
)
