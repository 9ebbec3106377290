from ninja import Router

router = Router(tags=["Revenue, forecasts and quotas"])
